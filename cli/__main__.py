"""`python -m cli` runs the policy-ledger command."""

from cli.app import main

main()
