// hello-c: a C program for wasmpod, built with clang and wasi-libc for WASI
// preview 1 (build.sh). It greets with its pod name (POD_NAME, filled in by
// pod.yaml through the downward API), prints its arguments, writes a file in
// its emptyDir volume at /data and reads it back, then exits 0.
//
// Nothing here is wasmpod-specific: it is ordinary C with stdio and POSIX
// file calls, which wasi-libc turns into WASI calls.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
	const char *name = getenv("POD_NAME");
	if (name == NULL || *name == '\0')
		name = "an unnamed pod";
	printf("hello from %s, a C program\n", name);

	printf("args:");
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");

	// The emptyDir volume: write a file, read it back, list the directory.
	const char *path = "/data/greeting.txt";
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		return 1;
	}
	fprintf(f, "written by %s\n", name);
	if (fclose(f) != 0) {
		perror(path);
		return 1;
	}
	char line[256] = "";
	f = fopen(path, "r");
	if (f == NULL || fgets(line, sizeof line, f) == NULL) {
		perror(path);
		return 1;
	}
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	struct stat st;
	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	printf("%s: \"%s\" (%lld bytes)\n", path, line, (long long)st.st_size);

	DIR *d = opendir("/data");
	if (d == NULL) {
		perror("/data");
		return 1;
	}
	printf("/data holds:");
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			printf(" %s", e->d_name);
	printf("\n");
	closedir(d);
	return 0;
}
