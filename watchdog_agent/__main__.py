from watchdog_agent.cli import main

raise SystemExit(main())
