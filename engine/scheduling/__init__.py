"""The scheduler: due BPMN timers, reminders and escalations, and delivery of notifications.

APScheduler is only the clock that wakes the jobs up; what is due lives in the database
(``cases.next_timer_at``, ``human_tasks.due_at``), so nothing is lost when a process stops and a
due time that passed while everything was down is handled once at the next sweep. A database lease
(:mod:`.lease`) lets exactly one scheduler sweep; every job commits per unit of work, and
``UNIQUE`` constraints make each escalation and each notification happen exactly once.

Modules: :mod:`.lease`, :mod:`.timers`, :mod:`.escalation`, :mod:`.dispatch`, :mod:`.service`.
"""
