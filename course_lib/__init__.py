"""course_lib — the reusable code of the fine-tuning course.

Import the module you need (``from course_lib import runtime, models``); this package imports nothing heavy
itself, so ``python -m course_lib`` starts fast and ``import course_lib`` never loads torch or transformers.
"""

__version__ = "0.1.0"
