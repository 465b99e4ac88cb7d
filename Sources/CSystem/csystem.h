// Linux headers that Swift's Glibc module does not include.
#ifndef CSYSTEM_H
#define CSYSTEM_H
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <malloc.h>  // mallinfo2, for the bench tool's heap figures
// Declared only under _GNU_SOURCE, which the Glibc module is built without.
extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
extern int pipe2(int pipefd[2], int flags);
#endif
#endif
