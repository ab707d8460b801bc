"""Messages to guarantors: the outbox that delivers them and the senders (SMS, push, a local
log) that carry them. It reads and writes the store through `graph` and knows no bank rule."""
