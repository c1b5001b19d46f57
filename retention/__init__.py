"""Retention: policies, planning and purge execution (disposal of what is past its retention period).

Sits beside `erasure`: it reuses erasure's executor through its neutral `Mandate`, never the other way round.
"""
