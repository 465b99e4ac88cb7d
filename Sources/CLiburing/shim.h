// liburing (Debian's liburing-dev): the io_uring poller's ring setup, submission and completion
// helpers. Most of them are static inline, which Swift imports and compiles like its own code.
#ifndef CLIBURING_SHIM_H
#define CLIBURING_SHIM_H
// liburing.h defines _XOPEN_SOURCE and _GNU_SOURCE before including libc's headers, which
// renames fields (fd_set's) that other modules see under the default names: include them
// first, as everyone else does.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/select.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <inttypes.h>
#include <time.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <liburing.h>
#endif
