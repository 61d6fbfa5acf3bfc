"""Staff's desk: the questions by status, what the model was sent and what it answered,
and a form to answer a question by hand (it goes through ``services.answer_by_hand``,
so the answer is recorded with its event and reaches the customer like any other)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from events.admin import register_stream_page
from project.admin_helpers import ReadOnlyAdmin, linked, short

from . import services
from .models import Question
from .serializers import MAX_QUESTION

OPEN = (Question.Status.ASKED, Question.Status.HANDED_TO_STAFF)

# A question about no order has a stream of its own: the events admin links it here.
register_stream_page("question", "admin:support_question_change")


class AnswerForm(forms.Form):
    answer = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        max_length=MAX_QUESTION * 2,
        help_text="Sent to the customer in the app and by email; recorded on the order's timeline.",
    )


@admin.register(Question)
class QuestionAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "customer", "order", "status", "question_start", "provider", "latency_ms")
    list_select_related = ("customer__user", "order")
    list_filter = ("status", "provider", ("created_at", admin.DateFieldListFilter))
    search_fields = ("customer__user__username", "order__id__exact", "question")
    date_hierarchy = "created_at"
    fields = (
        "customer_link",
        "order_link",
        "status",
        "answer_by_hand_link",
        "question",
        "answer",
        "handoff_reason",
        "answered_by",
        "provider",
        "model",
        "latency_ms",
        "prompt_tokens",
        "completion_tokens",
        "prompt",
        "created_at",
        "called_at",
        "answered_at",
    )
    readonly_fields = fields

    customer_link = linked("customer")
    order_link = linked("order")
    actions = ["close_unanswered"]

    @admin.action(description="Close selected questions without an answer (failed)", permissions=["answer"])
    def close_unanswered(self, request, queryset):
        by = request.user.get_username()
        closed = sum(
            services.close_unanswered(question_id=pk, by=by)
            for pk in queryset.order_by("pk").values_list("pk", flat=True)
        )
        skipped = queryset.count() - closed
        self.message_user(
            request,
            f"Closed {closed} question(s); skipped {skipped} already answered or closed.",
            messages.SUCCESS if closed else messages.INFO,
        )

    @admin.display(description="question")
    def question_start(self, question):
        return short(question.question, 60)

    @admin.display(description="answer by hand")
    def answer_by_hand_link(self, question):
        if question.status not in OPEN:
            return "—"
        url = reverse("admin:support_question_answer", args=[question.pk])
        return format_html('<a class="button" href="{}">Answer this question</a>', url)

    def get_urls(self):
        answer = self.admin_site.admin_view(self.answer_view)
        return [path("<int:question_id>/answer/", answer, name="support_question_answer"), *super().get_urls()]

    def has_answer_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def answer_view(self, request, question_id: int):
        if not self.has_answer_permission(request):
            raise PermissionDenied
        question = get_object_or_404(Question.objects.select_related("customer__user", "order"), pk=question_id)
        change_url = reverse("admin:support_question_change", args=[question.pk])
        form = AnswerForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.answer_by_hand(
                    question_id=question.pk, answer=form.cleaned_data["answer"], by=request.user.get_username()
                )
            except services.SupportError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"Question #{question.pk} answered; the customer is told.", messages.SUCCESS)
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Answer question #{question.pk}",
            "question": question,
            "form": form,
            "change_url": change_url,
            "is_open": question.status in OPEN,
        }
        return TemplateResponse(request, "admin/support/question/answer.html", context)
