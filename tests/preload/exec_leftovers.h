// tests/preload/exec_leftovers.h — what an image that replaced an uzswap process by exec
// must not have inherited: descriptors beyond 0-2 and threads beyond its own. Used by the
// probes' exec-child modes; each prints what it finds on stderr, prefixed with `who`.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace uzswap::test {

inline int count_exec_leftovers(const char* who) {
  int leftovers = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = d ? readdir(d) : nullptr) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd <= 2 || fd == dirfd(d)) continue;
    char target[256] = {};
    std::string link = std::string("/proc/self/fd/") + e->d_name;
    ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
    fprintf(stderr, "%s: descriptor %d survived exec: %s\n", who, fd, n > 0 ? target : "?");
    ++leftovers;
  }
  if (d) closedir(d);
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "Threads:", 8) == 0 && atoi(line + 8) != 1) {
      fprintf(stderr, "%s: %s", who, line);
      ++leftovers;
    }
  if (f) fclose(f);
  return leftovers;
}

}  // namespace uzswap::test
