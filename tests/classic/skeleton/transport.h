/* A decoy: classic headers often sit next to a classic transport.c.
 * make TRANSPORT= must build against the framework's own headers instead;
 * tests/classic.sh fails if this one is ever included. */
#error "tests/classic/skeleton/transport.h was included instead of the framework's transport.h"
