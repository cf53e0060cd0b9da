import logging


class OneLine(logging.Filter):
    """
    Turns a logged exception into one line. Used for the cache client: while Redis
    is down every cache call fails the same way, and a traceback each time would
    bury everything else in the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {error}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True
