"""The verbs: each command's flow (read, judge, write, render), one package or module per verb."""
