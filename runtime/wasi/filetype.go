package wasi

import "io/fs"

func filetypeOf(m fs.FileMode) Filetype {
	switch {
	case m.IsRegular():
		return FiletypeRegularFile
	case m.IsDir():
		return FiletypeDirectory
	case m&fs.ModeSymlink != 0:
		return FiletypeSymbolicLink
	case m&fs.ModeCharDevice != 0:
		return FiletypeCharacterDevice
	case m&fs.ModeDevice != 0:
		return FiletypeBlockDevice
	case m&fs.ModeSocket != 0:
		return FiletypeSocketStream
	}
	return FiletypeUnknown
}
