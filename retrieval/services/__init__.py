"""Business logic: every write and every multi-step operation lives here.

Views, API viewsets, admin actions, management commands and Celery tasks only
parse input, call one service function and render the result.
"""
