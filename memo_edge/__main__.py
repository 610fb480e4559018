from memo_edge.cli import main

main()
