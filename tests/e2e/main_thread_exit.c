// main_thread_exit: main() ends with pthread_exit() while a worker still reads the data;
// the process must end when that last thread returns (POSIX: the process exits when its
// last thread terminates), with the worker's output. run_e2e.sh main_thread_exit runs it
// plainly and under uzswap.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { kBytes = 64 << 20 };

static void* sum_pages(void* arg) {
  const unsigned char* data = arg;
  sleep(3);  // under uzswap: the limit makes the reclaim evict most of the data
  unsigned long sum = 0;
  for (size_t i = 0; i < kBytes; i += 512) sum += data[i];
  printf("sum %lu\n", sum);
  fflush(stdout);
  return NULL;
}

int main(void) {
  unsigned char* data = malloc(kBytes);
  if (data == NULL) return 1;
  for (size_t i = 0; i < kBytes; ++i) data[i] = (unsigned char)(i * 2654435761u >> 24);
  pthread_t worker;
  if (pthread_create(&worker, NULL, sum_pages, data) != 0) return 1;
  pthread_exit(NULL);
}
