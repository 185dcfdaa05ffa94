from imbalance_lab.cli import main

main()
