import sys

from nsbox.cli.main import main

sys.exit(main())
