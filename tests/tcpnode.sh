#!/usr/bin/env bash
# tests/tcpnode.sh -- scripted tcpnode sessions, and myshutdown end to end.
#
#   bash tests/tcpnode.sh        (BIN=dir of the binaries, default .)
#
# Each tcpnode reads its commands from a FIFO and writes to another; a test
# sends a command and then waits (event-driven, bounded by $T seconds) for
# the output line it expects.  Last line: "tcpnode: N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh

T=${TCPNODE_TIMEOUT:-20} # seconds one expected line may take
unset STCP_CC               # the tests know the default: cubic
declare -A IN OUT PID PENDING ENDED

# In a child process: close the FIFO ends this script holds.
drop_node_fds() {
    local fd
    for fd in "${IN[@]}" "${OUT[@]}"; do eval "exec $fd>&-"; done
}

# The address the nodes listen on and connect to (vnet: a virtual one).
HOST=127.0.0.1

# node_start NAME [tcpnode args...]: a tcpnode listening on $HOST.
node_start() {
    local name=$1 fd
    shift
    mkfifo "$WORK/$name.in" "$WORK/$name.out"
    (
        drop_node_fds # or another node would never see the end of its input
        exec timeout 300 "$BIN/tcpnode" -a "$HOST" "$@" < "$WORK/$name.in" \
            > "$WORK/$name.out" 2> "$WORK/$name.err"
    ) &
    PID[$name]=$!
    PIDS+=("$!")
    exec {fd}> "$WORK/$name.in"
    IN[$name]=$fd
    exec {fd}< "$WORK/$name.out"
    OUT[$name]=$fd
    : > "$WORK/$name.log"
    : > "$WORK/$name.used"
    PENDING[$name]=
    ENDED[$name]=
}

send() { # send NODE COMMAND
    echo "$2" >&"${IN[$1]}"
    echo "$1> $2" >> "$WORK/transcript"
}

# Read one more output line of NODE into its log (waits at most 1 s).
pull() {
    local node=$1 line
    if IFS= read -r -t 1 -u "${OUT[$node]}" line; then
        echo "${PENDING[$node]}$line" >> "$WORK/$node.log"
        echo "$node: ${PENDING[$node]}$line" >> "$WORK/transcript"
        PENDING[$node]=
    elif [ $? -gt 128 ]; then
        PENDING[$node]+=$line # timed out, maybe inside a line
    else
        ENDED[$node]=1
    fi
}

# expect NODE ERE: wait for an output line of NODE matching ERE that no
# earlier expect took (lines from other threads may come in any order).
# Sets LINE and M (BASH_REMATCH).  Fails after $T seconds.
expect() {
    local node=$1 re=$2 deadline=$((SECONDS + T)) n line
    while :; do
        n=0
        while IFS= read -r line; do
            n=$((n + 1))
            if [[ $line =~ $re ]] && ! grep -qx "$n" "$WORK/$node.used"; then
                M=("${BASH_REMATCH[@]}")
                LINE=$line
                echo "$n" >> "$WORK/$node.used"
                return 0
            fi
        done < "$WORK/$node.log"
        if [ $SECONDS -ge $deadline ] || [ -n "${ENDED[$node]}" ]; then
            echo "# $node: no line matching /$re/; its output so far:"
            sed 's/^/#   /' "$WORK/$node.log" | tail -15
            return 1
        fi
        pull "$node"
    done
}

# node_stop NODE: end its input (EOF: it closes everything and exits);
# true if it exits 0.
node_stop() {
    local node=$1 deadline=$((SECONDS + T)) fd=${IN[$1]}
    exec {fd}>&-
    while [ -z "${ENDED[$node]}" ] && [ $SECONDS -lt $deadline ]; do pull "$node"; done
    wait "${PID[$node]}"
}

# ls_state NODE SOCK STATE: ls shows STATE for SOCK (the state is published
# a moment after it changes: ls is repeated, at most 100 times).
ls_state() {
    local i
    for i in $(seq 100); do
        send "$1" ls
        expect "$1" "^ *$2 +[^ ]+ +[^ ]+ +([A-Z_0-9?]+)" || return 1
        [[ "${M[1]}" =~ ^($3)$ ]] && return 0
        sleep 0.05
    done
    echo "# $1: socket $2 is ${M[1]}, not $3"
    return 1
}

# connect_pair LISTENER_NODE PORT CONNECTING_NODE: sets CS (the connecting
# node's socket), AS (the accepted one) and CLOCAL (the connector's address).
connect_pair() {
    send "$3" "c $HOST $2"
    expect "$3" "^socket ([0-9]+): connected to $HOST:$2 from ([0-9.:]+)$" || return 1
    CS=${M[1]} CLOCAL=${M[2]}
    expect "$1" "^socket ([0-9]+): accepted from $CLOCAL " || return 1
    AS=${M[1]}
}

# ---- Command-line misuse ----
misuse() { "$BIN/tcpnode" "$@" < /dev/null > /dev/null 2> "$WORK/misuse.err"; [ $? -eq 2 ] && grep -q usage "$WORK/misuse.err"; }
check "misuse: unknown option: usage, exit 2" misuse -x
check "misuse: an argument: usage, exit 2" misuse extra
check "misuse: bad window: usage, exit 2" misuse -w 0
check "misuse: bad address: usage, exit 2" misuse -a 1.2.3

# ---- Terminal or pipe ----
t_terminal() { # script(1) gives it a terminal: readline echoes after a "> " prompt
    printf 'lc\nq\n' | TERM=dumb timeout 20 script -qfec "$BIN/tcpnode" /dev/null |
        tr -d '\r' > "$WORK/tty.out"
    grep -q '^> lc$' "$WORK/tty.out" && grep -q '^none$' "$WORK/tty.out"
}
check "on a terminal: a '> ' prompt (readline)" t_terminal
t_pipe() { # from a pipe: no prompt, only the output
    [ "$(printf 'lc\n' | env -u STCP_CC timeout 20 "$BIN/tcpnode")" = "$(printf 'none\nnewreno\ncubic  (default for new sockets)')" ]
}
check "from a pipe: silent, no prompt; lc: the algorithms, cubic the default" t_pipe
t_lc_default() { # STCP_CC and sc default move the mark
    [ "$(printf 'lc\nsc default none\nlc\n' | STCP_CC=newreno timeout 20 "$BIN/tcpnode")" = \
        "$(printf 'none\nnewreno  (default for new sockets)\ncubic\nnew sockets: congestion control none\nnone  (default for new sockets)\nnewreno\ncubic')" ]
}
check "lc: STCP_CC, then sc default, is the default" t_lc_default

# ---- Two nodes: strings both ways ----
node_start A
node_start B
send A "a 0"
expect A "^socket ([0-9]+): listening on 127.0.0.1:([0-9]+)$" || { summary tcpnode; exit 1; }
LSD=${M[1]} PORT=${M[2]}
check "c and a: connection made, both print the socket" connect_pair A "$PORT" B
BS=$CS AS1=$AS

t_strings() {
    send B "s $BS hello world" && expect B "^socket $BS: sent 11 bytes$" &&
        send A "r $AS1 11 y" && expect A "^socket $AS1: read 11 bytes: hello world$" &&
        send A "s $AS1 pong  with  spaces " && expect A "^socket $AS1: sent 19 bytes$" &&
        send B "r $BS 19 y" && expect B "^socket $BS: read 19 bytes: pong  with  spaces $"
}
check "s and r: strings both ways, spaces kept" t_strings

t_read_y_blocks() {
    send A "r $AS1 10 y"
    send B "s $BS 01234" && expect B "^socket $BS: sent 5 bytes$" &&
        send B "s $BS 56789" && expect B "^socket $BS: sent 5 bytes$" &&
        expect A "^socket $AS1: read ([0-9]+) bytes" && [ "$LINE" = "socket $AS1: read 10 bytes: 0123456789" ]
}
check "r y: blocks until all N bytes came (two sends)" t_read_y_blocks

t_read_n() {
    send B "s $BS abcdefghij" && expect B "^socket $BS: sent 10 bytes$" &&
        send A "r $AS1 4 n" && expect A "^socket $AS1: read 4 bytes: abcd$" &&
        send A "r $AS1 100 n" && expect A "^socket $AS1: read 6 bytes: efghij$"
}
check "r n: what is there, at most N" t_read_n

check "ls: the listener LISTEN" ls_state A "$LSD" LISTEN
check "ls: accepted socket ESTABLISHED" ls_state A "$AS1" ESTABLISHED
check "ls: connected socket ESTABLISHED" ls_state B "$BS" ESTABLISHED
t_ls_peer() {
    send A ls && expect A "^ *$AS1 +127.0.0.1:$PORT +([0-9.:]+) +[A-Z]" && [ "${M[1]}" = "$CLOCAL" ]
}
check "ls: local and peer addresses" t_ls_peer
check "window: the socket's windows" eval 'send A "window $AS1" && expect A "^socket $AS1: send window [0-9]+ \(the peer.s\), receive window [0-9]+ \(ours\)"'
check "window: the congestion control, cwnd and ssthresh" eval 'send A "window $AS1" && expect A "^socket $AS1: send window .*; cubic: cwnd [0-9]+, ssthresh ([0-9]+|-)$"'
# ls_cc NODE SOCK: CC, CWND and SSTHRESH of SOCK in ls, once its transport
# reported them (repeated, at most 100 times); sets CC CWND SSTHRESH.
ls_cc() {
    local i
    for i in $(seq 100); do
        send "$1" ls
        expect "$1" "^ *$2 +[^ ]+ +[^ ]+ +[^ ]+ +[0-9-]+ +[0-9-]+ +[0-9-]+ +([a-z-]+) +([0-9-]+) +([0-9-]+)" || return 1
        CC=${M[1]} CWND=${M[2]} SSTHRESH=${M[3]}
        [ "$CWND" != - ] && return 0
        sleep 0.05
    done
    echo "# $1: socket $2 shows no cwnd"
    return 1
}
check "ls: a cubic connection shows its cwnd" eval 'ls_cc B "$BS" && [ "$CC" = cubic ] && [ "$CWND" -gt 0 ]'
check "sc on a connection: refused, its algorithm is fixed" eval 'send A "sc $AS1 none" && expect A "^sc: socket $AS1 is a connection: its congestion control \(cubic\) was fixed when it started"'
t_sc_listener() { # the listener's algorithm goes to the connections it accepts
    send A "sc $LSD newreno" && expect A "^socket $LSD: congestion control newreno for the connections it accepts$" &&
        connect_pair A "$PORT" B && ls_cc A "$AS" && [ "$CC" = newreno ] && ls_cc B "$CS" && [ "$CC" = cubic ] &&
        send A "cl $AS" && expect A "^socket $AS: closed" && send B "cl $CS" && expect B "^socket $CS: closed" &&
        send A "sc $LSD cubic" && expect A "^socket $LSD: congestion control cubic "
}
check "sc on a listener: its accepted connections use it" t_sc_listener

# ---- Half-close: the connecting side shuts down writing ----
# (B closes first, so it passes through TIME_WAIT; that lasts 1 s, which a
# heavily loaded machine can let pass before ls looks, so CLOSED is accepted
# there once A is CLOSED -- the packet-level tests check TIME_WAIT exactly.)
t_half_close_b() {
    send B "sd $BS write" && expect B "^socket $BS: shut down for writing$" &&
        send A "r $AS1 10 y" && expect A "^socket $AS1: read 0 bytes \(end of data\)$" &&
        ls_state A "$AS1" CLOSE_WAIT && ls_state B "$BS" FIN_WAIT_2 &&
        send B "s $BS too late" && expect B "^s: broken pipe$" &&
        send A "s $AS1 after" && expect A "^socket $AS1: sent 5 bytes$" &&
        send B "r $BS 5 y" && expect B "^socket $BS: read 5 bytes: after$" &&
        send A "sd $AS1" && expect A "^socket $AS1: shut down for writing$" &&
        send B "r $BS 1 y" && expect B "^socket $BS: read 0 bytes \(end of data\)$" &&
        ls_state A "$AS1" CLOSED && ls_state B "$BS" 'TIME_WAIT|CLOSED' &&
        send A "cl $AS1" && expect A "^socket $AS1: closed" &&
        send B "cl $BS" && expect B "^socket $BS: closed"
}
check "half-close B->A: A reads the end and keeps sending; states; EPIPE" t_half_close_b

# ---- Half-close the other way, then SHUT_RD ----
t_half_close_a() {
    connect_pair A "$PORT" B || return 1
    send A "sd $AS write" && expect A "^socket $AS: shut down for writing$" &&
        send B "r $CS 1 y" && expect B "^socket $CS: read 0 bytes \(end of data\)$" &&
        ls_state B "$CS" CLOSE_WAIT && ls_state A "$AS" FIN_WAIT_2 &&
        send B "s $CS still here" && expect B "^socket $CS: sent 10 bytes$" &&
        send A "r $AS 10 y" && expect A "^socket $AS: read 10 bytes: still here$" &&
        send A "sd $AS read" && expect A "^socket $AS: shut down for reading$" &&
        send A "r $AS 5 n" && expect A "^socket $AS: read 0 bytes \(end of data\)$" &&
        send B "cl $CS" && expect B "^socket $CS: closed$" &&
        send A "cl $AS" && expect A "^socket $AS: closed"
}
check "half-close A->B: B keeps sending; then sd read ends A's reads" t_half_close_a

# ---- Bad commands: one clear line each, the node carries on ----
t_bad() {
    send A "frobnicate 1 2" && expect A "^unknown command 'frobnicate'" &&
        send A "c 127.0.0.1" && expect A "^usage: c IP PORT$" &&
        send A "c 300.1.1.1 80" && expect A "^usage: c IP PORT$" &&
        send A "r $LSD" && expect A "^usage: r SOCKET N" &&
        send A "r $LSD 0" && expect A "^usage: r SOCKET N" &&
        send A "s 999 hello" && expect A "^s: no socket 999$" &&
        send A "s x hello" && expect A "^s: 'x' is not a socket number$" &&
        send A "s $LSD hello" && expect A "^s: socket $LSD is a listening socket$" &&
        send A "sd $LSD sideways" && expect A "^usage: sd SOCKET" &&
        send A "sc 999 none" && expect A "^sc: no socket 999$" &&
        send A "sc $LSD reno" && expect A "^sc: unknown congestion control 'reno' \(lc lists them\)$" &&
        send A "sf /nonexistent/file 127.0.0.1 $PORT" && expect A "^sf: /nonexistent/file: no such file" &&
        send A "sf $WORK/A.log 127.0.0.1 $PORT vegas" && expect A "^sf: unknown congestion control 'vegas'" &&
        send A "a $PORT" && expect A "^a: address already in use$" &&
        send A "h" && expect A "^  q +close everything and quit$"
}
check "bad commands: usage or one clear error line" t_bad

t_refused() {
    send A "a 0" && expect A "^socket ([0-9]+): listening on 127.0.0.1:([0-9]+)$" || return 1
    local sd=${M[1]} port=${M[2]}
    send A "cl $sd" && expect A "^socket $sd: closed$" &&
        send B "c 127.0.0.1 $port" && expect B "^c: connection refused$"
}
check "c to a closed port: connection refused" t_refused

# ---- File transfers ----
make_file f0 0
make_file f1 1
make_file f1m 1048576
# transfer SENDER RECEIVER NAME [CC]: rf on RECEIVER, sf from SENDER (with
# CC; without, the sender's default: ALGO), compare.
transfer() {
    local size cc=${4:-} used=${4:-${ALGO:-cubic}}
    size=$(stat -c %s "$WORK/files/$3")
    send "$2" "rf $WORK/got.$3.$2 0" &&
        expect "$2" "^rf: socket [0-9]+: waiting on $HOST:([0-9]+) for " || return 1
    local port=${M[1]}
    send "$1" "sf $WORK/files/$3 $HOST $port $cc" &&
        expect "$1" "^sf: sent $size bytes of .* in [0-9.]+ s \(.*, $used\)$" &&
        expect "$2" "^rf: received $size bytes from .* in [0-9.]+ s " &&
        cmp -s "$WORK/files/$3" "$WORK/got.$3.$2"
}
for f in f0 f1 f1m; do
    check "sf/rf $f (none), byte-exact" transfer B A $f none
done
check "sf/rf the other way, 1 MiB (sf's default, cubic)" transfer A B f1m
check "sf/rf 1 MiB with sf's CC newreno, byte-exact" transfer B A f1m newreno
check "sf/rf 1 MiB with sf's CC cubic, byte-exact" transfer B A f1m cubic
check "sc default newreno, then sf/rf 1 MiB" eval 'send B "sc default newreno" && expect B "^new sockets: congestion control newreno$" && ALGO=newreno transfer B A f1m'

# ---- tcpnode with the client and the server ----
t_with_client() {
    (drop_node_fds && exec timeout 30 "$BIN/client" -q -f some/file "127.0.0.1:$PORT") \
        > /dev/null 2>&1 &
    local cpid=$!
    expect A "^socket ([0-9]+): accepted from " || return 1
    local sd=${M[1]}
    send A "r $sd 11 y" && expect A "^socket $sd: read 11 bytes: some/file\\\\r\\\\n$" &&
        send A "cl $sd" && expect A "^socket $sd: closed"
    local ok=$?
    ! wait $cpid # the client gets no reply: it must fail, not hang
    [ $ok -eq 0 ]
}
check "client -> tcpnode: the request line arrives" t_with_client

t_with_server() {
    echo hi > "$WORK/files/hi"
    start_server || return 1
    send B "c 127.0.0.1 $PORT" && expect B "^socket ([0-9]+): connected" || return 1
    local sd=${M[1]}
    # No newline can be typed: the server sees the request end at our FIN.
    send B "s $sd hi" && send B "sd $sd" && expect B "^socket $sd: shut down for writing$" &&
        send B "r $sd 100 y" && expect B "^socket $sd: read 0 bytes \(end of data\)$" &&
        send B "cl $sd" && expect B "^socket $sd: closed"
    local ok=$?
    stop_server
    return $ok
}
check "tcpnode -> server: a half-closed request is refused cleanly" t_with_server

check "node A: quits at EOF, exit 0" node_stop A
check "node B: quits at EOF, exit 0" node_stop B

# ---- Unreliable: -U on both nodes ----
export STCP_NETEM=${STCP_NETEM:-loss=0.05,dup=0.02,reorder=0.05,corrupt=0.01}
node_start C -U
node_start D -U
for f in f0 f1 f1m; do
    check "-U ($STCP_NETEM): sf/rf $f, byte-exact" transfer C D $f
done
t_eof_waits() {
    send D "rf $WORK/got.eof 0" && expect D "^rf: socket [0-9]+: waiting on 127.0.0.1:([0-9]+) " || return 1
    local port=${M[1]}
    send C "sf $WORK/files/f1m 127.0.0.1 $port" && expect C "^sf: sending " || return 1
    node_stop C && grep -q "^sf: sent 1048576 bytes" "$WORK/C.log" &&
        expect D "^rf: received 1048576 bytes" && cmp -s "$WORK/files/f1m" "$WORK/got.eof"
}
check "-U: EOF right after sf: the transfer finishes, then exit 0" t_eof_waits
t_eof_cancels() {
    send D "rf $WORK/got.never 0" && expect D "^rf: socket [0-9]+: waiting" &&
        node_stop D && grep -q "^rf: .*got.never: cancelled, no connection came$" "$WORK/D.log"
}
check "EOF while rf waits: cancelled, exit 0" t_eof_cancels
unset STCP_NETEM

# ---- Two nodes over vnet: each with its own link file on loopback UDP ----
read -r PE PF < <(python3 -c '
import socket
s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
VE=10.78.0.1
VF=10.78.0.2
printf '127.0.0.1 %s\n127.0.0.1 %s %s %s\n' "$PE" "$PF" "$VE" "$VF" > "$WORK/e.lnk"
printf '127.0.0.1 %s\n127.0.0.1 %s %s %s\n' "$PF" "$PE" "$VF" "$VE" > "$WORK/f.lnk"
HOST=$VE STCP_CARRIER=vnet:$WORK/e.lnk node_start E
HOST=$VF STCP_CARRIER=vnet:$WORK/f.lnk node_start F
t_vnet_li() {
    send E li && expect E "^vnet: UDP 127.0.0.1:$PE, MTU [0-9]+, 1 link$" &&
        expect E "^link 0: $VE <-> $VF, neighbour at UDP 127.0.0.1:$PF$" &&
        send F li && expect F "^link 0: $VF <-> $VE, neighbour at UDP 127.0.0.1:$PE$"
}
check "vnet: li shows the link (both virtual addresses, the neighbour's UDP)" t_vnet_li
check "vnet: lr shows the neighbour" eval 'send E lr && expect E "^$VF/32 via link 0 \(from $VE\), neighbour at UDP 127.0.0.1:$PF$"'
t_vnet_strings() {
    send E "a 0" && expect E "^socket ([0-9]+): listening on $VE:([0-9]+)$" || return 1
    local port=${M[2]}
    send F "c $VE $port" && expect F "^socket ([0-9]+): connected to $VE:$port from $VF:([0-9]+)$" || return 1
    local fs=${M[1]}
    expect E "^socket ([0-9]+): accepted from $VF:" || return 1
    local es=${M[1]}
    send F "s $fs over the virtual link" && expect F "^socket $fs: sent 21 bytes$" &&
        send E "r $es 21 y" && expect E "^socket $es: read 21 bytes: over the virtual link$" &&
        send E "s $es and back" && expect E "^socket $es: sent 8 bytes$" &&
        send F "r $fs 8 y" && expect F "^socket $fs: read 8 bytes: and back$" &&
        ls_cc F "$fs" && [ "$CC" = cubic ] &&
        send F "cl $fs" && expect F "^socket $fs: closed" && send E "cl $es" && expect E "^socket $es: closed"
}
check "vnet: strings both ways; ls shows cubic's cwnd" t_vnet_strings
HOST=$VE
check "vnet: sf/rf 1 MiB F -> E, byte-exact" transfer F E f1m
HOST=$VF
check "vnet: sf/rf 1 MiB E -> F (newreno), byte-exact" transfer E F f1m newreno
check "vnet: node E quits at EOF, exit 0" node_stop E
check "vnet: node F quits at EOF, exit 0" node_stop F
HOST=127.0.0.1

# ---- myshutdown through libstcp.a (its own lines become comments) ----
halfclose() {
    "$@" > "$WORK/halfclose.out" 2>&1
    local rc=$?
    sed 's/^/# /' "$WORK/halfclose.out"
    return $rc
}
check "halfclose: myshutdown cases, reliable" halfclose timeout 120 "$BIN/tests/halfclose"
check "halfclose: myshutdown cases, -U (loss 5%)" halfclose env \
    STCP_NETEM=loss=0.05,reorder=0.05,seed=7 timeout 120 "$BIN/tests/halfclose" -U -n 262144

summary tcpnode
