from django.db import models
from django.utils.translation import gettext_lazy as _


class CountBatch(models.Model):
    """
    A batch of counts already applied to the database (see `nobroker.counting`):
    its id is recorded in the same transaction as the apply, so a flush that
    meets the batch again only deletes it.
    """

    batch_id = models.CharField(_("batch"), max_length=32, unique=True)
    metric = models.CharField(_("metric"), max_length=64)
    day = models.DateField(_("day"))
    applied_at = models.DateTimeField(_("applied"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("applied count batch")
        verbose_name_plural = _("applied count batches")

    def __str__(self):
        return f"{self.metric} {self.day} {self.batch_id}"


class SentOnce(models.Model):
    """
    A side effect (an email) done at most once per key, however often its task
    runs: the key is claimed before the send and marked done after it (see
    `nobroker.sendonce`).
    """

    key = models.CharField(_("key"), max_length=128, unique=True)
    claimed_at = models.DateTimeField(_("claimed"))
    done_at = models.DateTimeField(_("done"), null=True, blank=True)

    class Meta:
        verbose_name = _("side effect done once")
        verbose_name_plural = _("side effects done once")

    def __str__(self):
        return self.key
