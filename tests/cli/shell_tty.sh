#!/bin/sh
# protsim shell on a terminal: a pseudo-terminal driven by python3's pty
# module types keys and reads the screen.  Checks the banner, Ctrl-C
# cancelling the line being typed (the shell and its machine go on), Tab
# completion of operations, argument keys and machine keys and choices
# (never file names), history across two sessions in
# ~/.local/state/protsim/history or $XDG_STATE_HOME/protsim/history, and a
# HOME that cannot hold a history.
# Run: PROTSIM=build/protsim sh tests/cli/shell_tty.sh
set -u
P=${PROTSIM:-build/protsim}
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
command -v python3 >/dev/null || { echo "FAIL: python3 is needed (make deps installs it)" >&2; exit 1; }
case $P in /*) ;; *) P=$(pwd)/$P ;; esac
mkdir "$T/home" "$T/home2" "$T/cwd"
: >"$T/cwd/zzfile.ps"     # a file name Tab must not complete
exec python3 - "$P" "$T" <<'PY'
import os, pty, select, sys, time

P, T = sys.argv[1], sys.argv[2]
PROMPT = b"protsim> "


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


class Shell:
    def __init__(self, env):
        env = dict(env, TERM="xterm", PATH="/usr/bin:/bin")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(T + "/cwd")
            os.execve(P, [P, "shell"], env)
        self.out = b""
        self.prompts = 0
        self.status = None

    def ready(self):
        """Wait for the next prompt, then a little: readline() is reading keys."""
        self.prompts += 1
        self.wait(PROMPT, self.prompts)
        time.sleep(0.2)

    def eof(self):
        """Ctrl-D on an empty line; again if it reached the terminal in line mode."""
        for _ in range(5):
            os.write(self.fd, b"\x04")
            end = time.time() + 2
            while time.time() < end:
                pid, st = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.status = st
                    return
                self.pump(0.1)
        fail("Ctrl-D did not end the shell; the screen: %r" % self.out[-800:])

    def pump(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            data = b""
        self.out += data
        return bool(data)

    def wait(self, what, count=1, timeout=30):
        end = time.time() + timeout
        while self.out.count(what) < count:
            if time.time() > end or not self.pump(0.2):
                fail("waited for %r (x%d); the screen: %r" % (what, count, self.out[-800:]))

    def type(self, keys, then=None, count=1):
        os.write(self.fd, keys)
        if then is not None:
            self.wait(then, count)

    def end(self, timeout=30):
        end = time.time() + timeout
        while self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = st
                break
            if time.time() > end:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
                fail("the shell did not end; the screen: %r" % self.out[-800:])
            self.pump(0.2)
        st = self.status
        if not os.WIFEXITED(st) or os.WEXITSTATUS(st) != 0:
            fail("the shell ended with status %r; the screen: %r" % (st, self.out[-800:]))
        return self.out


# Each step waits for the next prompt first (and a little more: libedit
# prints the prompt before it puts the terminal in character mode; a
# Ctrl-D that arrives in line mode is lost, which eof() allows for).
# Session 1.
sh = Shell({"HOME": T + "/home"})
sh.ready()
if b"`help` lists the operations" not in sh.out or b"Ctrl-C cancels" not in sh.out:
    fail("no banner: %r" % sh.out)
# Tab: machine keys and their choices; the machine line is applied (rmp info
# below shows it).  libedit redraws only what Tab added: wait for that.
sh.type(b"machine rmp_seg\t", b"ment=")
sh.type(b"1g mem=2g cpus=2 rmp=segm\t", b"ented ")
sh.type(b"\r")
# Ctrl-C mid-line: the line is dropped, the shell goes on.
sh.ready()
sh.type(b"nop cycles=9", b"nop cycles=9")
sh.type(b"\x03", b"^C")
sh.ready()
sh.type(b"nop cycles=3\r", b"[0] cpu0 nop cycles=3 -> OK (3 cycles)")
if b"nop cycles=9 ->" in sh.out:
    fail("the cancelled line ran")
# Tab: an operation name, then its argument key (no space after '=').
sh.ready()
sh.type(b"rmpup\t", b"date ")
sh.type(b"sp\t", b"a=")
sh.type(b"0x200000\r", b"cpu0 rmpupdate spa=0x200000 -> ")
# Tab: the second word of a two-word operation.
sh.ready()
sh.type(b"s2 ma\t", b"p ")
sh.type(b"\r", b"(required by 's2 map')")
# Tab offers no file names: "zz" stays "zz".
sh.ready()
sh.type(b"zz\t\r", b"zz: unknown operation")
if b"zzfile" in sh.out:
    fail("Tab completed a file name")
sh.ready()
sh.type(b"rmp info\r", b"mode=segmented")
sh.ready()
sh.type(b"quit\r")
sh.end()
hist = T + "/home/.local/state/protsim/history"
if not os.path.isfile(hist):
    fail("no history file " + hist)

# Session 2: the history of session 1 (Up Up: "rmp info", before "quit").
sh = Shell({"HOME": T + "/home"})
sh.ready()
sh.type(b"\x1b[A", b"quit")
sh.type(b"\x1b[A", b"rmp info")
sh.type(b"\r", b"cpu0 rmp info -> OK mode=contiguous")
sh.ready()
sh.eof()
sh.end()

# Session 3: XDG_STATE_HOME, when set, holds the history instead.
sh = Shell({"HOME": T + "/home2", "XDG_STATE_HOME": T + "/xdg"})
sh.ready()
sh.type(b"nop cycles=1\r", b"-> OK (1 cycles)")
sh.ready()
sh.eof()
sh.end()
if not os.path.isfile(T + "/xdg/protsim/history"):
    fail("no history in $XDG_STATE_HOME/protsim")
if os.path.exists(T + "/home2/.local"):
    fail("XDG_STATE_HOME set, yet ~/.local was used")

# Sessions 4 and 5: a HOME that cannot hold a directory, and no HOME: the shell works.
for env in ({"HOME": "/dev/null"}, {}):
    sh = Shell(env)
    sh.ready()
    sh.type(b"nop cycles=2\r", b"[0] cpu0 nop cycles=2 -> OK (2 cycles)")
    sh.ready()
    sh.eof()
    sh.end()
print("shell_tty: ok")
PY
