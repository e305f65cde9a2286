//go:build wasip1

package main

import "unsafe"

// Every function of wasi_snapshot_preview1, imported raw: pointers are
// addresses in this module's memory, results are errnos.

type ptr = unsafe.Pointer

//go:wasmimport wasi_snapshot_preview1 args_get
func argsGet(argv, buf ptr) uint32

//go:wasmimport wasi_snapshot_preview1 args_sizes_get
func argsSizesGet(argc, size ptr) uint32

//go:wasmimport wasi_snapshot_preview1 environ_get
func environGet(env, buf ptr) uint32

//go:wasmimport wasi_snapshot_preview1 environ_sizes_get
func environSizesGet(count, size ptr) uint32

//go:wasmimport wasi_snapshot_preview1 clock_res_get
func clockResGet(id uint32, res ptr) uint32

//go:wasmimport wasi_snapshot_preview1 clock_time_get
func clockTimeGet(id uint32, precision uint64, t ptr) uint32

//go:wasmimport wasi_snapshot_preview1 fd_advise
func fdAdvise(fd int32, off, n uint64, advice uint32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_allocate
func fdAllocate(fd int32, off, n uint64) uint32

//go:wasmimport wasi_snapshot_preview1 fd_close
func fdClose(fd int32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_datasync
func fdDatasync(fd int32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_fdstat_get
func fdFdstatGet(fd int32, st ptr) uint32

//go:wasmimport wasi_snapshot_preview1 fd_fdstat_set_flags
func fdFdstatSetFlags(fd int32, flags uint32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_fdstat_set_rights
func fdFdstatSetRights(fd int32, base, inheriting uint64) uint32

//go:wasmimport wasi_snapshot_preview1 fd_filestat_get
func fdFilestatGet(fd int32, st ptr) uint32

//go:wasmimport wasi_snapshot_preview1 fd_filestat_set_size
func fdFilestatSetSize(fd int32, size uint64) uint32

//go:wasmimport wasi_snapshot_preview1 fd_filestat_set_times
func fdFilestatSetTimes(fd int32, atim, mtim uint64, flags uint32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_pread
func fdPread(fd int32, iovs ptr, n uint32, off uint64, nread ptr) uint32

//go:wasmimport wasi_snapshot_preview1 fd_prestat_get
func fdPrestatGet(fd int32, st ptr) uint32

//go:wasmimport wasi_snapshot_preview1 fd_prestat_dir_name
func fdPrestatDirName(fd int32, buf ptr, n uint32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_pwrite
func fdPwrite(fd int32, iovs ptr, n uint32, off uint64, nwritten ptr) uint32

//go:wasmimport wasi_snapshot_preview1 fd_read
func fdRead(fd int32, iovs ptr, n uint32, nread ptr) uint32

//go:wasmimport wasi_snapshot_preview1 fd_readdir
func fdReaddir(fd int32, buf ptr, n uint32, cookie uint64, used ptr) uint32

//go:wasmimport wasi_snapshot_preview1 fd_renumber
func fdRenumber(from, to int32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_seek
func fdSeek(fd int32, off int64, whence uint32, pos ptr) uint32

//go:wasmimport wasi_snapshot_preview1 fd_sync
func fdSync(fd int32) uint32

//go:wasmimport wasi_snapshot_preview1 fd_tell
func fdTell(fd int32, pos ptr) uint32

//go:wasmimport wasi_snapshot_preview1 fd_write
func fdWrite(fd int32, iovs ptr, n uint32, nwritten ptr) uint32

//go:wasmimport wasi_snapshot_preview1 path_create_directory
func pathCreateDirectory(fd int32, p ptr, n uint32) uint32

//go:wasmimport wasi_snapshot_preview1 path_filestat_get
func pathFilestatGet(fd int32, flags uint32, p ptr, n uint32, st ptr) uint32

//go:wasmimport wasi_snapshot_preview1 path_filestat_set_times
func pathFilestatSetTimes(fd int32, flags uint32, p ptr, n uint32, atim, mtim uint64, fst uint32) uint32

//go:wasmimport wasi_snapshot_preview1 path_link
func pathLink(fd int32, flags uint32, p ptr, n uint32, fd2 int32, p2 ptr, n2 uint32) uint32

//go:wasmimport wasi_snapshot_preview1 path_open
func pathOpen(fd int32, dirflags uint32, p ptr, n uint32, oflags uint32, base, inheriting uint64, fdflags uint32, newfd ptr) uint32

//go:wasmimport wasi_snapshot_preview1 path_readlink
func pathReadlink(fd int32, p ptr, n uint32, buf ptr, bufLen uint32, used ptr) uint32

//go:wasmimport wasi_snapshot_preview1 path_remove_directory
func pathRemoveDirectory(fd int32, p ptr, n uint32) uint32

//go:wasmimport wasi_snapshot_preview1 path_rename
func pathRename(fd int32, p ptr, n uint32, fd2 int32, p2 ptr, n2 uint32) uint32

//go:wasmimport wasi_snapshot_preview1 path_symlink
func pathSymlink(target ptr, tn uint32, fd int32, p ptr, n uint32) uint32

//go:wasmimport wasi_snapshot_preview1 path_unlink_file
func pathUnlinkFile(fd int32, p ptr, n uint32) uint32

//go:wasmimport wasi_snapshot_preview1 poll_oneoff
func pollOneoff(in, out ptr, nsubs uint32, nevents ptr) uint32

//go:wasmimport wasi_snapshot_preview1 proc_exit
func procExit(code uint32)

//go:wasmimport wasi_snapshot_preview1 proc_raise
func procRaise(sig uint32) uint32

//go:wasmimport wasi_snapshot_preview1 random_get
func randomGet(buf ptr, n uint32) uint32

//go:wasmimport wasi_snapshot_preview1 sched_yield
func schedYield() uint32

//go:wasmimport wasi_snapshot_preview1 sock_accept
func sockAccept(fd int32, flags uint32, newfd ptr) uint32

//go:wasmimport wasi_snapshot_preview1 sock_recv
func sockRecv(fd int32, iovs ptr, n uint32, flags uint32, nread, roflags ptr) uint32

//go:wasmimport wasi_snapshot_preview1 sock_send
func sockSend(fd int32, iovs ptr, n uint32, flags uint32, nwritten ptr) uint32

//go:wasmimport wasi_snapshot_preview1 sock_shutdown
func sockShutdown(fd int32, how uint32) uint32
