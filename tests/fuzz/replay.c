/* Replays a fuzz target's corpus (every file in argv[1]) plus a few
 * built-in inputs, so the normal test suite re-runs every saved input. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if(!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return 1;
  }
  struct stat st;
  if(fstat(fileno(f), &st) || st.st_size < 0 || st.st_size > (64 << 20)) {
    fprintf(stderr, "replay: %s: bad size\n", path);
    fclose(f);
    return 1;
  }
  size_t n = (size_t)st.st_size;
  uint8_t *buf = malloc(n ? n : 1);
  if(!buf || fread(buf, 1, n, f) != n) {
    fprintf(stderr, "replay: %s: read failed\n", path);
    free(buf);
    fclose(f);
    return 1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  return 0;
}

int main(int argc, char **argv)
{
  static const uint8_t one[] = {0x30};
  static const uint8_t two[] = {0x30, 0x80};
  int bad = 0, runs = 0;
  LLVMFuzzerTestOneInput(one, 0);
  LLVMFuzzerTestOneInput(one, sizeof(one));
  LLVMFuzzerTestOneInput(two, sizeof(two));
  runs += 3;
  if(argc > 1) {
    DIR *d = opendir(argv[1]);
    if(!d) {
      fprintf(stderr, "replay: cannot open directory %s\n", argv[1]);
      return 1;
    }
    struct dirent *e;
    while((e = readdir(d))) {
      if(e->d_name[0] == '.')
        continue;
      char path[4096];
      snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
      bad |= run_file(path);
      runs++;
    }
    closedir(d);
  }
  printf("replay: %d inputs\n", runs);
  return bad;
}
