"""The durable runtime: the core's decisions persisted in a table and carried by queues."""
