from mailtls.cli import main

raise SystemExit(main())
