"""Load generation: workloads, arrival schedules, the streaming client and request records."""
