// The runner's own test guest (not from the upstream suite): it does what
// the suite's tests rely on, so that runner_test.go can check how a spec
// reaches the guest. argv[1] is a directory: the guest says whether a
// preopen has exactly that name (the Rust tests look theirs up so), prints
// its in.txt, creates out.cleanup in it, prints its environment in order,
// copies its stdin to stderr and exits with $EXIT.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

extern char **environ;

static int has_preopen(const char *name) {
  for (__wasi_fd_t fd = 3;; fd++) {
    __wasi_prestat_t st;
    if (__wasi_fd_prestat_get(fd, &st) != 0) {
      return 0;
    }
    char buf[256];
    size_t n = st.u.dir.pr_name_len;
    if (n >= sizeof buf || __wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, n) != 0) {
      continue;
    }
    buf[n] = 0;
    if (strcmp(buf, name) == 0) {
      return 1;
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: probe DIR\n");
    return 2;
  }
  printf("%s %s\n", has_preopen(argv[1]) ? "preopen" : "no preopen", argv[1]);
  char path[512];
  snprintf(path, sizeof path, "%s/in.txt", argv[1]);
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    perror(path);
    return 2;
  }
  char line[128];
  while (fgets(line, sizeof line, f) != NULL) {
    fputs(line, stdout);
  }
  fclose(f);
  snprintf(path, sizeof path, "%s/out.cleanup", argv[1]);
  f = fopen(path, "w");
  if (f == NULL || fputs("written\n", f) < 0 || fclose(f) != 0) {
    perror(path);
    return 2;
  }
  for (char **e = environ; *e != NULL; e++) {
    printf("%s\n", *e);
  }
  fflush(stdout);
  int ch;
  while ((ch = getchar()) != EOF) {
    fputc(ch, stderr);
  }
  const char *code = getenv("EXIT");
  return code == NULL ? 0 : atoi(code);
}
