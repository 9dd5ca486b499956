"""Process-tree accounting from /proc: resident memory (VmRSS) and CPU time of a server and its children."""

from __future__ import annotations

import os
import threading
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def is_vault(pid: int) -> bool:
    """True for strongroom's key vault process (a separate service beside the S3 gateway)."""
    try:
        return b"strongroom.vaultserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def process_tree(root: int, exclude_vault: bool = False) -> list[int]:
    """root and all its live descendants (parent links from /proc/<pid>/stat), optionally without the vault."""
    children = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if exclude_vault and pid != root and is_vault(pid):
            continue
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_rss_kib(root: int, exclude_vault: bool = False) -> int:
    """Sum of VmRSS over the tree, KiB (shared pages are counted once per process, as top does)."""
    total = 0
    for pid in process_tree(root, exclude_vault):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


def tree_cpu_seconds(root: int) -> float:
    """user+system CPU seconds of the live processes in the tree (plus their reaped children)."""
    ticks = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is state (field 3); utime, stime, cutime, cstime are fields 14-17
        ticks += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat: everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


class RssSampler(threading.Thread):
    """Samples the summed VmRSS of a process tree every ``interval`` s; ``phase`` labels the samples."""

    def __init__(self, pid: int, interval: float = 0.2, exclude_vault: bool = False) -> None:
        super().__init__(daemon=True, name=f"rss-{pid}")
        self.pid, self.interval, self.exclude_vault = pid, interval, exclude_vault
        self._stop_event = threading.Event()
        self.peak_kib = 0
        self.phase = "start"
        self.phase_peak_kib: dict[str, int] = {}
        self._lock = threading.Lock()

    def sample(self) -> None:
        kib = tree_rss_kib(self.pid, self.exclude_vault)
        with self._lock:
            self.peak_kib = max(self.peak_kib, kib)
            self.phase_peak_kib[self.phase] = max(self.phase_peak_kib.get(self.phase, 0), kib)

    def mark(self, phase: str) -> None:
        self.sample()
        with self._lock:
            self.phase = phase
        self.sample()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join()
        self.sample()
