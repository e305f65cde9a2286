// probe: the C test guest of wasmpod's conformance suite (runtime/enginetest,
// guest_c.go) and of the C end-to-end test (c_guest_e2e_test.go). It is an
// ordinary C program built with clang and wasi-libc for WASI preview 1:
//
//   clang --target=wasm32-wasi -O2 probe.c -o probe.wasm
//
// argv[1] selects a behaviour; every behaviour prints exact lines the tests
// compare. File system steps print "step: ok" or "step: errno ENAME", so a
// difference from upstream WASI (wasmtime) shows as the errno it gave.
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *errname(int e) {
	switch (e) {
	case EACCES: return "EACCES";
	case EBADF: return "EBADF";
	case EEXIST: return "EEXIST";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case EIO: return "EIO";
	case EISDIR: return "EISDIR";
	case ELOOP: return "ELOOP";
	case EMFILE: return "EMFILE";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOENT: return "ENOENT";
	case ENOSYS: return "ENOSYS";
	case ENOTCAPABLE: return "ENOTCAPABLE";
	case ENOTDIR: return "ENOTDIR";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ENOTSUP: return "ENOTSUP";
	case EPERM: return "EPERM";
	case EROFS: return "EROFS";
	case ESPIPE: return "ESPIPE";
	case EXDEV: return "EXDEV";
	}
	static char buf[32];
	snprintf(buf, sizeof buf, "E#%d", e);
	return buf;
}

// step prints "name: ok" when rc is not negative, else "name: errno ENAME".
static int step(const char *name, long rc) {
	if (rc < 0)
		printf("%s: errno %s\n", name, errname(errno));
	else
		printf("%s: ok\n", name);
	return rc >= 0;
}

// die prints what failed to stderr and exits 1: for steps the rest of a
// behaviour depends on.
static void die(const char *what) {
	fprintf(stderr, "probe: %s: %s\n", what, strerror(errno));
	exit(1);
}

static char *join(const char *dir, const char *name) {
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

// slurp returns the content of path (NUL-terminated) and its length in *n,
// or NULL with errno set.
static char *slurp(const char *path, size_t *n) {
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	size_t cap = 256, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (len + 1 >= cap)
			buf = realloc(buf, cap *= 2);
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			int e = errno;
			close(fd);
			free(buf);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = 0;
	if (n)
		*n = len;
	return buf;
}

// quoted prints b[0:n] as a C string literal (printable ASCII as is,
// anything else as \xHH).
static void quoted(const char *b, size_t n) {
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	putchar('"');
}

static int cmpstr(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

// list prints the entries of dir sorted by name, one "entry NAME TYPE" line
// each ("." and ".." included: WASI's fd_readdir returns them).
static void list(const char *dir) {
	DIR *d = opendir(dir);
	if (!d) {
		printf("opendir %s: errno %s\n", dir, errname(errno));
		return;
	}
	char *lines[256];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 256) {
		const char *ty = "other";
		switch (e->d_type) {
		case DT_REG: ty = "file"; break;
		case DT_DIR: ty = "dir"; break;
		case DT_LNK: ty = "symlink"; break;
		}
		size_t len = strlen(e->d_name) + 16;
		lines[n] = malloc(len);
		snprintf(lines[n], len, "%s %s", e->d_name, ty);
		n++;
	}
	closedir(d);
	qsort(lines, n, sizeof lines[0], cmpstr);
	for (int i = 0; i < n; i++) {
		printf("entry %s\n", lines[i]);
		free(lines[i]);
	}
}

// fsops walks a volume through the calls a C program makes: create, write,
// seek, read, pread/pwrite, truncate, stat, mkdir, rename, symlink,
// readlink, readdir, unlink and rmdir, and the errnos of the usual
// mistakes. It leaves dir as it found it (empty).
static int fsops(const char *dir) {
	char *f = join(dir, "f.txt"), *sub = join(dir, "sub"), *g = join(sub, "g.txt");
	char *link = join(sub, "link"), *missing = join(dir, "missing");
	char buf[64];

	int fd = open(f, O_CREAT | O_EXCL | O_RDWR, 0644);
	if (!step("create", fd))
		return 1;
	printf("write %zd\n", write(fd, "hello world", 11));
	step("create again O_EXCL", open(f, O_CREAT | O_EXCL | O_WRONLY, 0644));
	printf("seek %lld\n", (long long)lseek(fd, 6, SEEK_SET));
	ssize_t n = read(fd, buf, sizeof buf);
	printf("read ");
	quoted(buf, n < 0 ? 0 : (size_t)n);
	printf("\n");
	printf("tell %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
	printf("seek end-5 %lld\n", (long long)lseek(fd, -5, SEEK_END));
	step("seek before start", lseek(fd, -1, SEEK_SET));
	n = pread(fd, buf, 5, 0);
	printf("pread ");
	quoted(buf, n < 0 ? 0 : (size_t)n);
	printf("\n");
	printf("pwrite %zd\n", pwrite(fd, "HELLO", 5, 0));
	printf("tell after pwrite %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
	step("truncate 5", ftruncate(fd, 5));
	step("truncate 8", ftruncate(fd, 8));
	struct stat st, st2;
	if (fstat(fd, &st) < 0)
		die("fstat");
	printf("size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
	if (stat(f, &st2) < 0)
		die("stat");
	printf("same inode %d\n", st.st_ino != 0 && st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
	step("close", close(fd));
	step("read closed fd", read(fd, buf, 1));

	size_t len;
	char *content = slurp(f, &len);
	printf("content ");
	quoted(content ? content : "", content ? len : 0);
	printf("\n");
	free(content);

	step("open missing", open(missing, O_RDONLY));
	step("stat missing", stat(missing, &st));
	step("mkdir", mkdir(sub, 0755));
	step("mkdir again", mkdir(sub, 0755));
	step("open dir O_DIRECTORY", fd = open(sub, O_RDONLY | O_DIRECTORY));
	if (fd >= 0)
		close(fd);
	step("open file O_DIRECTORY", open(f, O_RDONLY | O_DIRECTORY));
	step("open dir for writing", open(sub, O_WRONLY));
	step("rename", rename(f, g));
	step("stat old name", stat(f, &st));
	step("symlink", symlink("g.txt", link));
	ssize_t ln = readlink(link, buf, sizeof buf);
	printf("readlink ");
	quoted(buf, ln < 0 ? 0 : (size_t)ln);
	printf("\n");
	if (lstat(link, &st) < 0)
		die("lstat");
	printf("lstat symlink %d\n", S_ISLNK(st.st_mode));
	if (stat(link, &st) < 0)
		die("stat through link");
	printf("stat through link size %lld\n", (long long)st.st_size);
	content = slurp(link, &len);
	printf("read through link ");
	quoted(content ? content : "", content ? len : 0);
	printf("\n");
	free(content);
	list(sub);
	step("rmdir non-empty", rmdir(sub));
	step("unlink dir", unlink(sub));
	step("rmdir file", rmdir(g));
	step("unlink link", unlink(link));
	step("stat target after unlink link", stat(g, &st));
	step("unlink", unlink(g));
	step("unlink again", unlink(g));
	step("rmdir", rmdir(sub));
	list(dir);
	return 0;
}

// edge runs one behaviour where wasmpod's WASI layer had a defect (issue
// 10): each prints what wasmtime gives.
static int edge(const char *what, const char *dir) {
	struct stat st;
	char buf[16];
	if (strcmp(what, "nofollow") == 0) {
		// A final symlink is not followed under O_NOFOLLOW: ELOOP.
		char *t = join(dir, "target"), *l = join(dir, "l");
		int fd = open(t, O_CREAT | O_WRONLY, 0644);
		if (fd < 0)
			die("create target");
		close(fd);
		step("symlink", symlink("target", l));
		step("open O_NOFOLLOW", open(l, O_RDONLY | O_NOFOLLOW));
		step("open followed", open(l, O_RDONLY));
		return 0;
	}
	if (strcmp(what, "dirrename") == 0) {
		// Renaming a directory onto an empty one replaces it (POSIX).
		char *a = join(dir, "a"), *b = join(dir, "b"), *af = join(a, "x");
		if (mkdir(a, 0755) < 0 || mkdir(b, 0755) < 0)
			die("mkdir");
		int fd = open(af, O_CREAT | O_WRONLY, 0644);
		if (fd < 0)
			die("create");
		close(fd);
		step("rename dir onto empty dir", rename(a, b));
		step("stat old", stat(a, &st));
		step("stat moved file", stat(join(b, "x"), &st));
		return 0;
	}
	if (strcmp(what, "append") == 0) {
		// O_APPEND writes go to the end; pwrite works on such a file and
		// leaves the offset alone (it writes at 0 or at the end, as POSIX
		// or Linux say); fcntl(F_SETFL, O_APPEND) takes effect.
		char *p = join(dir, "log");
		int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644);
		if (fd < 0)
			die("open append");
		printf("write %zd\n", write(fd, "ab", 2));
		printf("seek %lld\n", (long long)lseek(fd, 0, SEEK_SET));
		printf("write %zd\n", write(fd, "cd", 2));
		printf("tell %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
		ssize_t w = pwrite(fd, "xyz", 3, 0);
		if (w < 0)
			printf("pwrite: errno %s\n", errname(errno));
		else
			printf("pwrite %zd\n", w);
		printf("tell %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
		off_t end = lseek(fd, 0, SEEK_END);
		printf("end 4 or 7 %d\n", end == 4 || end == 7);
		close(fd);
		char *q = join(dir, "later");
		fd = open(q, O_CREAT | O_TRUNC | O_RDWR, 0644);
		if (fd < 0)
			die("open later");
		if (write(fd, "12345", 5) != 5)
			die("write later");
		step("fcntl O_APPEND", fcntl(fd, F_SETFL, O_APPEND));
		printf("append flag %d\n", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
		lseek(fd, 0, SEEK_SET);
		printf("write %zd\n", write(fd, "6", 1));
		close(fd);
		size_t n;
		char *c = slurp(q, &n);
		printf("content ");
		quoted(c ? c : "", c ? n : 0);
		printf("\n");
		return 0;
	}
	if (strcmp(what, "dirops") == 0) {
		// A directory fd is not a file: seek, read, write and truncate
		// fail (wasmtime: EBADF; the WASI test suite also allows EISDIR
		// and ENOTCAPABLE).
		int fd = open(dir, O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			die("open dir");
		step("seek dir", lseek(fd, 0, SEEK_CUR));
		step("seek dir to 0", lseek(fd, 0, SEEK_SET));
		step("read dir", read(fd, buf, sizeof buf));
		step("write dir", write(fd, "x", 1));
		step("truncate dir", ftruncate(fd, 0));
		return 0;
	}
	fprintf(stderr, "probe: unknown edge %s\n", what);
	return 2;
}

static long long ns(clockid_t c) {
	struct timespec ts;
	if (clock_gettime(c, &ts) < 0)
		die("clock_gettime");
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// ready says so on stdout at once (stdout is a pipe, so fully buffered).
static void ready(void) {
	puts("ready");
	fflush(stdout);
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: probe COMMAND [ARG...]\n");
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "hello") == 0) {
		puts("hello");
		fputs("oops\n", stderr);
		return 0;
	}
	if (strcmp(cmd, "args") == 0) {
		printf("argc %d\n", argc);
		for (int i = 0; i < argc; i++)
			printf("argv[%d] %s\n", i, argv[i]);
		return 0;
	}
	if (strcmp(cmd, "env") == 0) {
		for (char **e = environ; *e; e++)
			puts(*e);
		const char *v = getenv("GREETING");
		printf("getenv GREETING %s\n", v ? v : "(unset)");
		return 0;
	}
	if (strcmp(cmd, "exit") == 0 && argc == 3) {
		fflush(stdout);
		exit(atoi(argv[2]));
	}
	if (strcmp(cmd, "return") == 0 && argc == 3)
		return atoi(argv[2]);
	if (strcmp(cmd, "fs") == 0 && argc == 3)
		return fsops(argv[2]);
	if (strcmp(cmd, "edge") == 0 && argc == 4)
		return edge(argv[2], argv[3]);
	if (strcmp(cmd, "write") == 0 && argc == 4) {
		FILE *f = fopen(argv[2], "w");
		if (!f || fputs(argv[3], f) < 0 || fclose(f) != 0) {
			printf("write %s: errno %s\n", argv[2], errname(errno));
			return 1;
		}
		return 0;
	}
	if (strcmp(cmd, "cat") == 0 && argc == 3) {
		size_t n;
		char *c = slurp(argv[2], &n);
		if (!c) {
			printf("cat %s: errno %s\n", argv[2], errname(errno));
			return 1;
		}
		fwrite(c, 1, n, stdout);
		return 0;
	}
	if (strcmp(cmd, "stdin") == 0) {
		// Copies stdin to stdout until EOF, then counts on stderr.
		char buf[4096];
		long long total = 0;
		ssize_t n;
		while ((n = read(0, buf, sizeof buf)) > 0) {
			if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
				die("fwrite");
			total += n;
		}
		if (n < 0)
			die("read stdin");
		fflush(stdout);
		fprintf(stderr, "eof after %lld bytes\n", total);
		return 0;
	}
	if (strcmp(cmd, "clocks") == 0) {
		printf("realtime %lld\n", ns(CLOCK_REALTIME) / 1000000000LL);
		struct timespec res;
		printf("monotonic resolution ok %d\n", clock_getres(CLOCK_MONOTONIC, &res) == 0 && (res.tv_sec > 0 || res.tv_nsec > 0));
		long long t0 = ns(CLOCK_MONOTONIC);
		struct timespec d = {0, 20 * 1000000L};
		if (nanosleep(&d, NULL) < 0)
			die("nanosleep");
		long long t1 = ns(CLOCK_MONOTONIC);
		printf("monotonic after 20ms sleep ok %d\n", t1 - t0 >= 20000000LL && t1 - t0 < 10000000000LL);
		time_t now = time(NULL);
		printf("time() agrees %d\n", now - ns(CLOCK_REALTIME) / 1000000000LL <= 1);
		return 0;
	}
	if (strcmp(cmd, "random") == 0) {
		unsigned char a[256], b[256];
		if (getentropy(a, sizeof a) < 0 || getentropy(b, sizeof b) < 0)
			die("getentropy");
		int zero = 1;
		for (size_t i = 0; i < sizeof a; i++)
			zero &= a[i] == 0;
		printf("random differs %d nonzero %d\n", memcmp(a, b, sizeof a) != 0, !zero);
		return 0;
	}
	if (strcmp(cmd, "trap") == 0) {
		puts("trapping");
		fflush(stdout);
		__builtin_trap();
	}
	if (strcmp(cmd, "assert") == 0) {
		// A failed assert prints its message to stderr and aborts: a trap
		// in wasi-libc.
		assert(argc == 99);
		return 0;
	}
	if (strcmp(cmd, "cwd") == 0 && argc == 3) {
		// wasi-libc keeps the cwd itself ("/" at start; it ignores PWD)
		// and resolves relative paths against it.
		char buf[256];
		printf("cwd %s\n", getcwd(buf, sizeof buf) ? buf : "(error)");
		if (!step("chdir", chdir(argv[2])))
			return 1;
		printf("cwd %s\n", getcwd(buf, sizeof buf) ? buf : "(error)");
		FILE *f = fopen("rel.txt", "w");
		if (!f || fputs("relative", f) < 0 || fclose(f) != 0)
			die("write rel.txt");
		// wasi-libc resolves ".." from a preopen's top inside that
		// preopen: it escapes, EPERM (as wasmtime), the cwd unchanged.
		step("chdir ..", chdir(".."));
		printf("cwd %s\n", getcwd(buf, sizeof buf) ? buf : "(error)");
		step("chdir /data", chdir("/data"));
		printf("cwd %s\n", getcwd(buf, sizeof buf) ? buf : "(error)");
		step("chdir missing", chdir("missing"));
		return 0;
	}
	if (strcmp(cmd, "oob") == 0) {
		// A load far beyond the linear memory traps.
		volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)0xfffffff0u;
		printf("%u\n", *p);
		return 0;
	}
	if (strcmp(cmd, "memhog") == 0 && argc == 3) {
		// Allocates and touches 1 MiB blocks until malloc fails (the
		// memory cannot grow), then exits with argv[2].
		int mib = 0;
		static void *volatile last; // the blocks escape: no elision
		for (char *b; (b = malloc(1 << 20)) != NULL; mib++) {
			memset(b, 1, 1 << 20);
			*(void **)b = last;
			last = b;
			if (mib % 4 == 0)
				fprintf(stderr, "allocated %d MiB\n", mib);
		}
		printf("malloc failed after %d MiB\n", mib);
		fflush(stdout);
		return atoi(argv[2]);
	}
	if (strcmp(cmd, "count") == 0 && argc == 3) {
		// Counts the entries of a directory (readdir over many
		// fd_readdir batches), "." and ".." apart.
		DIR *d = opendir(argv[2]);
		if (!d)
			die("opendir");
		// d_ino is the inode stat gives, "." included.
		struct stat st;
		if (stat(argv[2], &st) < 0)
			die("stat");
		int n = 0, dots = 0, inos = 0;
		for (struct dirent *e; (e = readdir(d)) != NULL;) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
				dots++;
				if (strcmp(e->d_name, ".") == 0)
					inos += e->d_ino == st.st_ino;
				continue;
			}
			n++;
			struct stat fst;
			char *p = join(argv[2], e->d_name);
			if (lstat(p, &fst) < 0)
				die("lstat");
			free(p);
			inos += e->d_ino == fst.st_ino && fst.st_ino != 0;
		}
		closedir(d);
		printf("%d entries, %d dots, %d inodes as stat\n", n, dots, inos);
		return 0;
	}
	if (strcmp(cmd, "pollstdin") == 0) {
		// poll(2) on stdin: a timeout with no input, then each line as it
		// comes, then EOF.
		struct pollfd pfd = {.fd = 0, .events = POLLIN};
		int r = poll(&pfd, 1, 100);
		printf("timeout %d\n", r);
		ready();
		char buf[256];
		for (;;) {
			pfd.revents = 0;
			r = poll(&pfd, 1, -1);
			if (r != 1 || !(pfd.revents & (POLLIN | POLLHUP)))
				die("poll");
			ssize_t n = read(0, buf, sizeof buf);
			if (n < 0)
				die("read");
			if (n == 0)
				break;
			printf("got ");
			quoted(buf, (size_t)n);
			printf("\n");
			fflush(stdout);
		}
		puts("eof");
		return 0;
	}
	if (strcmp(cmd, "waitterm") == 0) {
		// TERM arrives as EOF on stdin: read it to the end, then exit with
		// argv[2] (default 0).
		ready();
		char buf[512];
		ssize_t n;
		while ((n = read(0, buf, sizeof buf)) > 0)
			;
		printf("term%s\n", n < 0 ? " (read error)" : "");
		fflush(stdout);
		return argc > 2 ? atoi(argv[2]) : 0;
	}
	if (strcmp(cmd, "sleep") == 0) {
		ready();
		sleep(3600);
		puts("woke");
		return 0;
	}
	if (strcmp(cmd, "spin") == 0) {
		ready();
		volatile unsigned long x = 0;
		for (;;)
			x++;
	}
	fprintf(stderr, "probe: unknown command %s\n", cmd);
	return 2;
}
