from mailtls.launch import main

raise SystemExit(main())
