"""Imported by the workers' fork server as it starts (a preload module), after the libraries:
loads the data every worker reads, so that the workers forked from it share its pages (a
lookup writes nothing to the table's strings), where each used to load its own copy on its
first word. Never to be imported anywhere else."""

from monitor.core.terms import load_frequencies

load_frequencies()
