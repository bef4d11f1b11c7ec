// main_thread_exit: main() ends with pthread_exit() while a worker still reads the data;
// the process must end when that last thread returns (POSIX: the process exits when its
// last thread terminates), with the worker's output. run_e2e.sh main_thread_exit runs it
// plainly and under uzswap.
// main_thread_exit fork: a thread forks; in the child that thread, the child's main
// thread, starts a reader, joins it and returns from its start routine (as CPython's
// threads do): the child must end then, and the parent prints its exit status.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

static void* fork_from_thread(void* data) {
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(1);
  }
  if (pid > 0) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) exit(1);
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    fflush(stdout);
    return NULL;
  }
  pthread_t reader;
  if (pthread_create(&reader, NULL, sum_pages, data) != 0) exit(1);
  pthread_join(reader, NULL);
  return NULL;  // the child's last program thread ends here
}

int main(int argc, char** argv) {
  unsigned char* data = malloc(kBytes);
  if (data == NULL) return 1;
  for (size_t i = 0; i < kBytes; ++i) data[i] = (unsigned char)(i * 2654435761u >> 24);
  pthread_t worker;
  if (argc > 1 && strcmp(argv[1], "fork") == 0) {
    if (pthread_create(&worker, NULL, fork_from_thread, data) != 0) return 1;
    pthread_join(worker, NULL);
    return 0;
  }
  if (pthread_create(&worker, NULL, sum_pages, data) != 0) return 1;
  pthread_exit(NULL);
}
