"""People in the loop, the pure part: what a human task asks of whom, and when it is done.

``model`` holds the shapes a definition writes (the human task's Parameters,
process activities) and the stable result schema; ``rules`` decides who may
act and which transition an action completes. No I/O: the runtime
(``runtime/people``) loads the facts (groups, the request) and stores the task.
docs/PEOPLE.md is the user's guide to all of it.
"""
