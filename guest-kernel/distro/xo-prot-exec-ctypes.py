#!/usr/bin/python3
# A ctypes "JIT", as a Python program that generates machine code does it:
# write code into an anonymous mapping, mprotect it to PROT_EXEC alone (no
# PROT_READ: with XO, execute-only), call it. Then read it from a child:
# with XO on (exec_only in /proc/cpuinfo) the read must die of SIGSEGV and
# the mapping has no protection key; without XO, on a CPU with protection
# keys (pku and ospke, as TCG's -cpu max has), mainline Linux makes
# PROT_EXEC alone execute-only with a pkey: the read dies too, and smaps
# shows the key; with neither the read returns the code. libffi closures (ctypes callbacks,
# the other run-time code in a Python program) must work either way. TAP.
import ctypes
import os
import signal

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_PRIVATE, MAP_ANONYMOUS = 0x02, 0x20
CODE = bytes([0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3])  # mov eax, 42; ret

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
with open("/proc/cpuinfo") as f:
    flags = next((l.split() for l in f if l.startswith("flags")), [])
xo = "exec_only" in flags
pkeys = "pku" in flags and "ospke" in flags

results = []


def check(ok, desc):
    results.append((ok, desc))


def read_in_child(addr):
    """'segv', 'code' (the first byte read back) or 'wrong'."""
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)
        os._exit(0 if ctypes.string_at(addr, 1)[0] == CODE[0] else 1)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSEGV:
        return "segv"
    return "code" if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else "wrong"


def smaps_pkey(addr):
    """The ProtectionKey of the mapping at addr in /proc/self/smaps (None
    without the field: a kernel without protection keys)."""
    cur = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                cur = lo <= addr < hi
            elif cur and head == "ProtectionKey:":
                return int(line.split()[1])
    return None


page = libc.mmap(None, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
check(page not in (None, ctypes.c_void_p(-1).value), "mmap(PROT_READ|PROT_WRITE) for the code")
ctypes.memmove(page, CODE, len(CODE))
check(libc.mprotect(page, 4096, PROT_EXEC) == 0, "mprotect(PROT_EXEC) alone")
fn = ctypes.CFUNCTYPE(ctypes.c_int)(page)
check(fn() == 42, "the PROT_EXEC-only code runs and returns 42")
got = read_in_child(page)
pkey = smaps_pkey(page)
if xo:
    check(got == "segv" and pkey in (None, 0),
          "XO on: a read of the PROT_EXEC-only code dies of SIGSEGV, no protection key"
          " (got %s, ProtectionKey %s)" % (got, pkey))
elif pkeys:
    check(got == "segv" and pkey not in (None, 0),
          "XO off, protection keys: a read of the PROT_EXEC-only code dies of SIGSEGV,"
          " a pkey makes it execute-only (got %s, ProtectionKey %s)" % (got, pkey))
else:
    check(got == "code", "XO off, no protection keys: a read of the PROT_EXEC-only code"
          " returns it (got %s)" % got)
check(libc.mprotect(page, 4096, PROT_READ | PROT_EXEC) == 0 and read_in_child(page) == "code"
      and fn() == 42, "after mprotect(PROT_READ|PROT_EXEC) the code reads back and still runs")

# A libffi closure: qsort calling back into Python.
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
arr = (ctypes.c_int * 6)(5, 3, 9, 1, 4, 2)
libc.qsort(arr, len(arr), ctypes.sizeof(ctypes.c_int), CMP(lambda a, b: a[0] - b[0]))
check(list(arr) == [1, 2, 3, 4, 5, 9], "a libffi closure (qsort's comparator in Python) sorts")

print("TAP version 13")
print("1..%d" % len(results))
for i, (ok, desc) in enumerate(results, 1):
    print("%s %d %s" % ("ok" if ok else "not ok", i, desc))
raise SystemExit(0 if all(ok for ok, _ in results) else 1)
