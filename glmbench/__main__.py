from glmbench.cli.app import main

main()
