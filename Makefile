# STCP -- build, demo, tests.
#
#   make          build libstcp.a, client, server, tcpnode and linkem (the link emulator)
#   make demo     fetch a generated file from a local server over an unreliable path
#   make test     every test suite; ends with "N passed, M failed"
#   make lint     clang-tidy and cppcheck
#   make sweep    the full hostile-network sweep (long)
#
# Missing Debian packages are installed on first use (see deps.sh).
# CC=clang works too.  O=DIR builds into DIR (used for sanitizer builds).
#
#   make TRANSPORT=path/to/transport.c [TRANSPORT_CC=g++] [O=DIR]
#                 libstcp.a, client and server with that transport instead of
#                 ours, into DIR (default build/transport-NAME).  .cc/.cpp/.cxx,
#                 or a C++ TRANSPORT_CC, compiles it as C++.  Its warnings are
#                 shown, never fatal (TRANSPORT_CFLAGS); ours stay -Werror.

CC      ?= gcc
O       ?=
TRANSPORT ?=
CFLAGS  ?= -std=c11 -Wall -Wextra -Werror -O2 -g
SAN     ?=
P       := $(if $(O),$(O)/,)
DEPS_OK := .deps-ok

CRYPTO_CFLAGS = $(shell pkg-config --cflags libcrypto 2>/dev/null)
CRYPTO_LIBS   = $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)
CUNIT_CFLAGS  = $(shell pkg-config --cflags cunit 2>/dev/null)
CUNIT_LIBS    = $(shell pkg-config --libs cunit 2>/dev/null || echo -lcunit)
READLINE_LIBS = $(shell pkg-config --libs readline 2>/dev/null || echo -lreadline)

ALL_CFLAGS = $(CFLAGS) $(SAN) $(CRYPTO_CFLAGS) -I. -pthread
LDLIBS     = $(CRYPTO_LIBS) -pthread

LIB_SRCS = mysock.c stcp_api.c network.c net_ip.c carrier_tun.c carrier_vnet.c pcap.c transport.c cc.c cc_newreno.c cc_cubic.c
LIB_OBJS = $(LIB_SRCS:%.c=$(P)obj/%.o)
LINK_CC  = $(CC)
LINK_FLAGS = $(ALL_CFLAGS)

# ---- A dropped-in transport (make TRANSPORT=...) ----
# It is compiled from a copy in the build directory, so that its
# #include "transport.h" finds our headers even when the classic ones sit
# next to it; its own directory is searched after ours for anything else.
# STCP_TRANSPORT_DROPIN gives it the classic view of transport.h; LINUX is
# defined as the classic build defined it (its transport.h required it).
ifneq ($(TRANSPORT),)
TRANSPORT_NAME := $(basename $(notdir $(TRANSPORT)))
ifeq ($(O),)
O := build/transport-$(TRANSPORT_NAME)
P := $(O)/
endif
TRANSPORT_IS_CXX := $(or $(filter %.cc %.cpp %.cxx %.C,$(TRANSPORT)),$(findstring ++,$(TRANSPORT_CC)))
TRANSPORT_CC ?= $(if $(TRANSPORT_IS_CXX),$(CXX),$(CC))
TRANSPORT_CFLAGS ?= -O2 -g -Wall -Wextra
TRANSPORT_LANG := $(if $(TRANSPORT_IS_CXX),-x c++,-x c)
TRANSPORT_COPY := $(P)obj/dropin/$(notdir $(TRANSPORT))
TRANSPORT_OBJ := $(P)obj/dropin/transport.o
LIB_OBJS := $(filter-out $(P)obj/transport.o,$(LIB_OBJS)) $(TRANSPORT_OBJ)
ifneq ($(TRANSPORT_IS_CXX),)
LINK_CC := $(TRANSPORT_CC)
LINK_FLAGS := $(filter-out -std=%,$(ALL_CFLAGS))
endif
endif
HEADERS  = mysock.h mysock_impl.h stcp_api.h network.h carrier.h transport.h pcap.h cc.h linkem.h rng.h

TEST_SRCS = tests/test_main.c tests/test_units.c tests/test_core.c tests/test_carriers.c tests/test_cc.c tests/harness.c \
            tests/test_linkem.c tests/test_sack.c tests/test_rack.c
TEST_TOOLS = $(P)tests/unit $(P)tests/duplex $(P)tests/synflood $(P)tests/peer $(P)tests/garbage \
             $(P)tests/carrier_ports $(P)tests/kpeer $(P)tests/mfetch $(P)tests/halfclose \
             $(P)tests/ipgarbage $(P)tests/cprobe $(P)tests/mconn $(P)tests/twsyn

.PHONY: all deps demo test lint sweep bench fuzz clean format tools

all: $(P)libstcp.a $(P)client $(P)server $(P)tcpnode $(P)linkem

$(DEPS_OK): deps.sh
	@bash deps.sh
	@touch $@

deps: $(DEPS_OK)

$(P)obj/%.o: %.c $(HEADERS) $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

ifneq ($(TRANSPORT),)
$(TRANSPORT_COPY): $(TRANSPORT)
	@mkdir -p $(dir $@)
	{ echo '#line 1 "$(TRANSPORT)"'; cat $<; } > $@

$(TRANSPORT_OBJ): $(TRANSPORT_COPY) $(HEADERS) $(DEPS_OK)
	$(TRANSPORT_CC) $(TRANSPORT_LANG) $(TRANSPORT_CFLAGS) $(SAN) -I. -idirafter $(dir $(TRANSPORT)) \
	  -pthread -DSTCP_TRANSPORT_DROPIN -DLINUX -c $< -o $@
endif

$(P)libstcp.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(P)client: $(P)obj/client.o $(P)libstcp.a
	$(LINK_CC) $(LINK_FLAGS) -o $@ $^ $(LDLIBS)

$(P)server: $(P)obj/server.o $(P)libstcp.a
	$(LINK_CC) $(LINK_FLAGS) -o $@ $^ $(LDLIBS)

$(P)tcpnode: $(P)obj/tcpnode.o $(P)libstcp.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(READLINE_LIBS) $(LDLIBS)

# The link emulator: its own program, not part of the library.
$(P)linkem: $(P)obj/linkem.o $(P)obj/linkem_core.o
	$(CC) $(ALL_CFLAGS) -o $@ $^

$(P)tests/unit: $(TEST_SRCS:%.c=$(P)obj/%.o) $(P)obj/linkem_core.o $(P)libstcp.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(CUNIT_LIBS) $(LDLIBS)

$(P)obj/tests/%.o: tests/%.c $(HEADERS) tests/harness.h tests/traffic.h tests/fileproto.h $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CUNIT_CFLAGS) -c $< -o $@

# Single-file test programs linked with libstcp.a.
$(P)tests/%: $(P)obj/tests/%.o $(P)libstcp.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

tools: all $(TEST_TOOLS)

demo: all
	@bash tests/demo.sh

# Everything; the last line is "N passed, M failed".
test: tools
	@$(MAKE) --no-print-directory O=build/asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" CFLAGS="-std=c11 -Wall -Wextra -Werror -O1 -g" tools
	@$(MAKE) --no-print-directory O=build/tsan SAN="-fsanitize=thread" CFLAGS="-std=c11 -Wall -Wextra -Werror -O1 -g" build/tsan/client build/tsan/server build/tsan/tests/duplex build/tsan/tests/halfclose
	@bash tests/run.sh

lint: $(DEPS_OK)
	clang-tidy --quiet $(LIB_SRCS) client.c server.c tcpnode.c linkem.c linkem_core.c tests/*.c -- -std=c11 -I. -pthread $(CRYPTO_CFLAGS)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I. $(LIB_SRCS) client.c server.c tcpnode.c linkem.c linkem_core.c tests/*.c

format:
	clang-format -i *.c *.h tests/*.c tests/*.h

sweep: tools
	@bash tests/sweep.sh

# libFuzzer targets, SECONDS each (make test runs them for 30 s).
FUZZ_SECONDS ?= 600
fuzz: $(DEPS_OK)
	@bash tests/fuzz.sh $(FUZZ_SECONDS)

# The benchmark table (bench/results.md); not part of make test.
bench: tools
	@bash bench/run.sh

clean:
	rm -rf obj build libstcp.a client server tcpnode linkem tests/unit tests/duplex tests/synflood .deps-ok
