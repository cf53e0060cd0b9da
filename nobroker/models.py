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
