from trtlab.cli.main import main

raise SystemExit(main())
