from postiz_pipelines.cli import main

main()
