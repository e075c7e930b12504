import sys

from milestones.cli import main

sys.exit(main())
