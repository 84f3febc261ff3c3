"""``bca-reproduce <experiment> --tune``: grid points first, then each row's seeds at its chosen point.

Work is taken group by group ((row, task) in table order): its free grid points, then, once every point has
a final record, its seeds at the point ``bca.paper.tune.choose`` picks from those records. Several copies of the
command share the work through the run locks; when all that is left is held by other live copies (or
waits for their grid points), a copy polls every ``--poll`` seconds instead of stopping, so no copy idles
while the table is unfinished and no final run starts before its grid is complete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bca.paper import experiments, tune
from bca.paper.reproduce_cells import cell_name, compose_cells, report, run_cell
from bca.run import records


@dataclass
class Group:
    row: experiments.Row
    task: str
    grid: list = field(default_factory=list)  # composed (cell, cfg, path) of the grid points
    finals: list | None = None  # composed final cells; None until the choice is known

    def choice(self, experiment) -> tune.Choice | None:
        if not self.grid:
            return None
        found = [r for r in (records.finished_record(p) for _, _, p in self.grid) if r is not None]
        return tune.choose(self.row, self.task, found, experiment.tune)


@dataclass
class TunePlan:
    experiment: experiments.Experiment
    overrides: tuple
    seeds: list | None
    groups: list[Group]

    @classmethod
    def build(cls, experiment, overrides, seeds, rows, tasks) -> TunePlan:
        """Compose (and so validate) every grid point and every untuned row's seeds before anything runs."""
        pairs = experiments.selected(experiment, rows, tasks)
        if not any(row.grid_for(task) for row, task in pairs):
            raise experiments.ExperimentError(
                f"{experiment.name}: --tune needs a row with a `grid` (e.g. grid: {{method.lr: [1.0e-4, 3.0e-4, "
                "1.0e-3]}}); none of the selected rows has one"
            )
        tuned_keys = {k for row, task in pairs for k in row.grid_for(task)}
        clash = sorted(o for o in overrides if o.split("=", 1)[0].lstrip("+~") in tuned_keys)
        if clash:
            raise experiments.ExperimentError(
                f"--tune searches {sorted(tuned_keys)}, but the command line fixes {clash}: drop them or drop --tune"
            )
        grid_cells = tune.tuning_cells(experiment, overrides, rows, tasks)
        composed = compose_cells(experiment, grid_cells)
        groups = []
        for row, task in pairs:
            group = Group(row, task, grid=[c for c in composed if c[0].row == row.label and c[0].task == task])
            if not group.grid:  # no grid: its seeds run at the row's own values, as without --tune
                group.finals = compose_cells(
                    experiment, experiments.cells(experiment, overrides, seeds, [row.label], [task])
                )
            groups.append(group)
        return cls(experiment, tuple(overrides), seeds, groups)

    def extend(self, group: Group, choice: tune.Choice | None) -> bool:
        """Compose the points ``tune.widen`` added to the group's grid (True if there were new ones)."""
        if choice is None:
            return False
        known = {c.point for c, _, _ in group.grid}
        new = [p for p in tune.grid_points(choice.grid) if p not in known]
        if not new:
            return False
        cells = [
            experiments.cell(
                self.experiment, group.row, group.task, self.experiment.tune.seed, self.overrides, point,
                tune.tuning_extra(self.experiment), tuning=True,
            )
            for point in new
        ]  # fmt: skip
        group.grid += compose_cells(self.experiment, cells)
        print(f"[bca-reproduce] {group.row.label} / {group.task}: the choice sat at the grid's edge; added "
              + "; ".join(tune.describe_point(p) for p in new))  # fmt: skip
        return True

    def finals(self, group: Group, choice: tune.Choice | None):
        if group.finals is None and choice is not None and choice.point is not None:
            cells = experiments.cells(
                self.experiment, self.overrides, self.seeds, [group.row.label], [group.task],
                points={(group.row.label, group.task): choice.point},
            )  # fmt: skip
            group.finals = compose_cells(self.experiment, cells)
        return group.finals

    def dry_run(self) -> int:
        from bca.paper.progress import summary

        pending = []  # the seeds of rows whose grid is not decided yet: (method, task, how many)
        protocol = self.experiment.tune.protocol
        print(f"[bca-reproduce] {self.experiment.title}: --tune ({protocol} protocol)")
        for group in self.groups:
            while self.extend(group, group.choice(self.experiment)):  # every point tune.widen added (or will add)
                pass
            for cell, _, path in group.grid:
                print(f"  [{'done' if records.finished(path) else 'todo'}] {cell_name(cell)}  -> {path}")
            choice = group.choice(self.experiment)
            if choice is not None:
                print(f"    {choice.describe()}")
            finals = self.finals(group, choice)
            if finals is None:
                print(f"    [after tuning] {group.row.label} / {group.task}: seeds at the chosen point")
                method = group.grid[0][1].method.name
                pending.append((method, group.task, len(self.seeds or group.row.seeds or self.experiment.seeds)))
            for cell, _, path in finals or []:
                print(f"  [{'done' if records.finished(path) else 'todo'}] {cell_name(cell)}  -> {path}")
        composed = [c for g in self.groups for c in [*g.grid, *(g.finals or [])]]
        print(f"[bca-reproduce] {summary(composed, pending)}")
        return 0

    def run(self, poll: float) -> int:
        failures, attempted, announced = [], set(), set()
        while True:
            progress, waiting = False, []
            for group in self.groups:
                for cell, cfg, path in group.grid:
                    progress |= self._take(cell, cfg, path, attempted, failures, waiting)
                choice = group.choice(self.experiment)
                if self.extend(group, choice):  # new grid points: run them before any seed
                    progress = True
                    waiting.append(f"{group.row.label} / {group.task}: widened grid")
                    continue
                if choice is not None and choice.complete and (group.row.label, group.task) not in announced:
                    announced.add((group.row.label, group.task))
                    print(f"[bca-reproduce] {choice.describe()}")
                finals = self.finals(group, choice)
                if finals is None:
                    # wait only for grid points another process holds; one that failed here will not finish
                    if any(not records.finished(p) and str(p) not in attempted for _, _, p in group.grid):
                        waiting.append(f"{group.row.label} / {group.task}: seeds wait for the grid")
                    continue
                for cell, cfg, path in finals:
                    progress |= self._take(cell, cfg, path, attempted, failures, waiting)
            if not waiting:
                break
            if not progress:
                print(f"[bca-reproduce] {len(waiting)} item(s) held by other processes; next check in {poll:.0f} s")
                time.sleep(poll)
        composed = [c for g in self.groups for c in [*g.grid, *(g.finals or [])]]
        undecided = [g for g in self.groups if g.grid and g.finals is None]
        for group in undecided:
            failures.append(group.choice(self.experiment).describe())
        return report(failures, [], composed)

    @staticmethod
    def _take(cell, cfg, path, attempted, failures, waiting) -> bool:
        """Run a cell unless done or already tried in this process; True if it ran."""
        key = str(path)
        if key in attempted or records.finished(path):
            return False
        outcome, message = run_cell(cell, cfg, path)
        if outcome == "locked":
            waiting.append(message)
            return False
        attempted.add(key)
        if outcome == "failed":
            failures.append(message)
        return outcome == "ran"
