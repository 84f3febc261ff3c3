"""Exit statuses, the same for every command (README, "When things go wrong")."""

EXIT_OK = 0  # done (or already finished: skipped)
EXIT_RUN_FAILED = 1  # a run diverged or failed (its record says why); for bca-reproduce: at least one cell
EXIT_INVALID = 2  # invalid input: nothing ran, nothing was written
EXIT_LOCKED = 3  # another live process is training this run: nothing was done
EXIT_DISK_FULL = 4  # the disk filled up: nothing complete was lost, free space and rerun to resume
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGINT (128 + 2, the shell's convention): rerun to resume
