from app.gui.main import main

raise SystemExit(main())
