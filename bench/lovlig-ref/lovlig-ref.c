/*
 * lovlig's core work, as fast as this machine's tools allow (bench/corpus.ts, issue 15):
 * for every archive, decompress the tar.bz2, write every member file to
 * <outdir>/<archive name without .tar.bz2>/<path> and compute its XXH3-128, like lovlig
 * (martgra/lovlig: Python bz2 + tarfile + xxhash) does, without parsing or a database.
 *
 *   lovlig-ref [--decoder lbzip2|libbz2] [--threads N] [--manifest FILE] <outdir> <archive.tar.bz2>...
 *
 * --decoder lbzip2 (default) reads `lbzip2 -dc -n N` through a pipe (parallel decompression; the
 * fastest bzip2 decoder here), libbz2 decompresses in-process on one core (what Python's bz2 does).
 * Prints one JSON line: files, bytes, and the XXH3-128 of the list "<archive>/<path>\t<xxh128 hex>\n"
 * in archive order (the manifest digest); --manifest also writes that list, to cross-check lovsync.
 *
 * xxhash.h: xxHash 0.8.3 (BSD 2-Clause, Yann Collet), vendored from the npm package
 * xxhash-addon 2.1.0 (package/xxHash/xxhash.h). Build: gcc -O2 -march=native lovlig-ref.c -lbz2
 */
#define _GNU_SOURCE
#define XXH_INLINE_ALL
#include "xxhash.h"
#include <bzlib.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static void die(const char *what, const char *detail) {
  fprintf(stderr, "lovlig-ref: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

/* ---- input: an lbzip2 pipe or in-process libbz2 ---- */
typedef struct {
  FILE *pipe;   /* lbzip2 */
  FILE *raw;    /* libbz2 */
  BZFILE *bz;
  int eof;
} Input;

static size_t input_read(Input *in, void *buf, size_t n) {
  size_t got = 0;
  while (got < n && !in->eof) {
    if (in->pipe) {
      size_t r = fread((char *)buf + got, 1, n - got, in->pipe);
      if (r == 0) {
        if (ferror(in->pipe)) die("read from lbzip2", strerror(errno));
        in->eof = 1;
      }
      got += r;
    } else {
      int err = BZ_OK;
      int r = BZ2_bzRead(&err, in->bz, (char *)buf + got, (int)(n - got));
      if (err != BZ_OK && err != BZ_STREAM_END) die("libbz2 read failed", NULL);
      got += (size_t)r;
      if (err == BZ_STREAM_END) in->eof = 1;
    }
  }
  return got;
}

static void input_exact(Input *in, void *buf, size_t n, const char *what) {
  if (input_read(in, buf, n) != n) die("truncated archive", what);
}

/* ---- output directories: mkdir -p, remembering the last directory made ---- */
static char last_dir[8192];

static void make_parents(char *path) {
  char *slash = strrchr(path, '/');
  if (!slash) return;
  *slash = 0;
  if (strcmp(path, last_dir) != 0) {
    for (char *p = path + 1; *p; p++) {
      if (*p != '/') continue;
      *p = 0;
      if (mkdir(path, 0755) != 0 && errno != EEXIST) die("mkdir", path);
      *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die("mkdir", path);
    snprintf(last_dir, sizeof last_dir, "%s", path);
  }
  *slash = '/';
}

static uint64_t octal(const char *field, size_t len) {
  if ((unsigned char)field[0] & 0x80) { /* GNU base-256 */
    uint64_t v = 0;
    for (size_t i = 1; i < len; i++) v = (v << 8) | (unsigned char)field[i];
    return v;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < len && field[i]; i++) {
    if (field[i] == ' ') continue;
    if (field[i] < '0' || field[i] > '7') break;
    v = v * 8 + (uint64_t)(field[i] - '0');
  }
  return v;
}

#define CHUNK (256 * 1024)
static char chunk[CHUNK];
static XXH3_state_t *manifest;
static uint64_t total_files, total_bytes;
static FILE *manifest_out;

/* Reads `size` bytes of member content (plus padding to 512) into a malloc'd buffer. */
static char *read_member(Input *in, uint64_t size) {
  char *buf = malloc(size + 1);
  if (!buf) die("out of memory", NULL);
  input_exact(in, buf, size, "member");
  buf[size] = 0;
  size_t pad = (size_t)((512 - size % 512) % 512);
  if (pad) input_exact(in, chunk, pad, "padding");
  return buf;
}

static void skip(Input *in, uint64_t size) {
  uint64_t left = size + (512 - size % 512) % 512;
  while (left) {
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    input_exact(in, chunk, n, "skip");
    left -= n;
  }
}

static void extract(Input *in, const char *outdir, const char *dataset) {
  char header[512];
  char *long_name = NULL;
  XXH3_state_t *state = XXH3_createState();
  for (;;) {
    size_t got = input_read(in, header, 512);
    if (got == 0) break;
    if (got != 512) die("truncated archive", "header");
    int zero = 1;
    for (int i = 0; i < 512; i++)
      if (header[i]) { zero = 0; break; }
    if (zero) continue; /* end-of-archive blocks; read on to EOF */
    uint64_t size = octal(header + 124, 12);
    char type = header[156];
    if (type == 'L') { /* GNU long name: the next header's path */
      free(long_name);
      long_name = read_member(in, size);
      continue;
    }
    if (type == 'x') { /* pax extended header: take path= */
      char *pax = read_member(in, size);
      for (char *p = pax; p < pax + size;) {
        char *space = strchr(p, ' ');
        if (!space) break;
        long len = strtol(p, NULL, 10);
        if (len <= 0) break;
        if (strncmp(space + 1, "path=", 5) == 0) {
          free(long_name);
          size_t n = (size_t)(p + len - 1 - (space + 6));
          long_name = strndup(space + 6, n);
        }
        p += len;
      }
      free(pax);
      continue;
    }
    char name[1024];
    if (long_name) {
      snprintf(name, sizeof name, "%s", long_name);
      free(long_name);
      long_name = NULL;
    } else if (memcmp(header + 257, "ustar", 5) == 0 && header[345]) {
      snprintf(name, sizeof name, "%.155s/%.100s", header + 345, header);
    } else {
      snprintf(name, sizeof name, "%.100s", header);
    }
    if (type != '0' && type != 0) {
      skip(in, type == '5' ? 0 : size);
      continue;
    }
    if (strstr(name, "..") || name[0] == '/') die("unsafe member path", name);
    char path[8192];
    snprintf(path, sizeof path, "%s/%s/%s", outdir, dataset, name);
    make_parents(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("open", path);
    XXH3_128bits_reset(state);
    uint64_t left = size;
    while (left) {
      size_t n = left < CHUNK ? (size_t)left : CHUNK;
      input_exact(in, chunk, n, name);
      XXH3_128bits_update(state, chunk, n);
      for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, chunk + off, n - off);
        if (w < 0) die("write", path);
        off += (size_t)w;
      }
      left -= n;
    }
    close(fd);
    size_t pad = (size_t)((512 - size % 512) % 512);
    if (pad) input_exact(in, chunk, pad, "padding");
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(state));
    char line[2048];
    int at = snprintf(line, sizeof line, "%s/%s\t", dataset, name);
    for (int i = 0; i < 16; i++) at += snprintf(line + at, sizeof line - at, "%02x", canon.digest[i]);
    line[at++] = '\n';
    XXH3_128bits_update(manifest, line, (size_t)at);
    if (manifest_out) fwrite(line, 1, (size_t)at, manifest_out);
    total_files++;
    total_bytes += size;
  }
  XXH3_freeState(state);
  free(long_name);
}

int main(int argc, char **argv) {
  const char *decoder = "lbzip2";
  int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
    if (i + 1 >= argc) die("missing value for", argv[i]);
    if (strcmp(argv[i], "--decoder") == 0) decoder = argv[i + 1];
    else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--manifest") == 0) {
      manifest_out = fopen(argv[i + 1], "w");
      if (!manifest_out) die("open", argv[i + 1]);
    }
    else die("unknown option", argv[i]);
  }
  if (strcmp(decoder, "lbzip2") != 0 && strcmp(decoder, "libbz2") != 0) die("--decoder must be lbzip2 or libbz2", decoder);
  if (argc - i < 2) die("usage: lovlig-ref [--decoder lbzip2|libbz2] [--threads N] <outdir> <archive.tar.bz2>...", NULL);
  const char *outdir = argv[i++];
  if (mkdir(outdir, 0755) != 0 && errno != EEXIST) die("mkdir", outdir);
  manifest = XXH3_createState();
  XXH3_128bits_reset(manifest);
  for (; i < argc; i++) {
    const char *archive = argv[i];
    const char *base = strrchr(archive, '/');
    base = base ? base + 1 : archive;
    char dataset[1024];
    snprintf(dataset, sizeof dataset, "%s", base);
    char *ext = strstr(dataset, ".tar.bz2");
    if (ext) *ext = 0;
    Input in = {0};
    if (strcmp(decoder, "lbzip2") == 0) {
      char cmd[8192];
      snprintf(cmd, sizeof cmd, "lbzip2 -dc -n %d < '%s'", threads, archive);
      in.pipe = popen(cmd, "r");
      if (!in.pipe) die("popen lbzip2", strerror(errno));
      setvbuf(in.pipe, NULL, _IOFBF, 1 << 20);
    } else {
      in.raw = fopen(archive, "rb");
      if (!in.raw) die("open", archive);
      int err;
      in.bz = BZ2_bzReadOpen(&err, in.raw, 0, 0, NULL, 0);
      if (err != BZ_OK) die("BZ2_bzReadOpen", archive);
    }
    extract(&in, outdir, dataset);
    if (in.pipe) {
      int status = pclose(in.pipe);
      if (status != 0) die("lbzip2 failed on", archive);
    } else {
      int err;
      BZ2_bzReadClose(&err, in.bz);
      fclose(in.raw);
    }
  }
  if (manifest_out && fclose(manifest_out) != 0) die("write manifest", strerror(errno));
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(manifest));
  printf("{\"files\":%llu,\"bytes\":%llu,\"digest\":\"", (unsigned long long)total_files,
         (unsigned long long)total_bytes);
  for (int k = 0; k < 16; k++) printf("%02x", canon.digest[k]);
  printf("\"}\n");
  return 0;
}
