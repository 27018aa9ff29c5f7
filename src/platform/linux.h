/* Private to the Linux platform layer: what platform_linux.c and crash.c
 * share. */
#ifndef IVM_PLATFORM_LINUX_H
#define IVM_PLATFORM_LINUX_H

/* Writes "ivm: WHAT failed: REASON" to stderr and aborts (platform_linux.c). */
_Noreturn void ivm_linux_fatal(const char *what, int err);
/* Give the calling thread its own signal stack, and take it back (crash.c). */
void ivm_linux_thread_signal_stack_enter(void);
void ivm_linux_thread_signal_stack_leave(void);

#endif
