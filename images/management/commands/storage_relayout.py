"""Move every image's files to the prefix its visibility calls for (``public/`` or ``private/``).

``manage.py storage_relayout`` is the migration from the old layout (every
file under ``images/``, all of it served by the CDN) and the repair after a
move whose old objects could not be deleted. Each image is moved on its own
(copy, point the row at the copies, delete the old objects), so it can be
stopped and run again at any time, while the site runs: a second run moves
nothing. ``--dry-run`` only reports.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from images.models import Image
from images.services.relocation import image_files_relocate


class Command(BaseCommand):
    help = (
        "Move every image's stored files under public/ (published images) or private/ (everything else) and "
        "delete public copies of non-public images. Idempotent; --dry-run only reports."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Report what would move; change nothing.")

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        verb = "would move" if dry_run else "moved"
        images = moved = files = skipped = leftovers = 0
        missing: list[str] = []
        for image_id in list(Image.objects.order_by("created_at", "pk").values_list("pk", flat=True)):
            images += 1
            result = image_files_relocate(image_id=image_id, dry_run=dry_run, sweep=True)
            if result.skipped:
                skipped += 1
                continue
            if result.moves:
                moved += 1
                files += len(result.moves)
                self.stdout.write(f"{image_id}: {verb} {len(result.moves)} file(s)")
                if options["verbosity"] > 1:
                    for old, new in result.moves.items():
                        self.stdout.write(f"  {old} -> {new}")
            if result.leftovers:
                leftovers += len(result.leftovers)
                self.stdout.write(
                    f"{image_id}: {'would delete' if dry_run else 'deleted'} {len(result.leftovers)} public "
                    "leftover(s) of a non-public image"
                )
            missing += result.missing
        for key in missing:
            self.stderr.write(f"missing from storage, left as it is: {key}")
        summary = (
            f"{images} image(s) checked: {moved} {verb} ({files} file(s)), {leftovers} public leftover(s) "
            f"{'to delete' if dry_run else 'deleted'}, {skipped} skipped (upload or processing in progress), "
            f"{len(missing)} file(s) missing"
        )
        self.stdout.write(self.style.SUCCESS(summary) if not missing else self.style.WARNING(summary))
