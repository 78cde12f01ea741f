"""Lessons: a question from the survey, answered by runs launched with one click, with
charts and a verdict. ``?lesson=NAME`` opens a lesson; ``?hide=controls`` (and ``nav``)
leaves a student only the launch button and the results."""
import streamlit as st

from app import lessons as ui
from app import glossary, services, text, urlstate, widgets
from app.urlstate import hidden
from ssrl_core import lessons as L

st.title("Lessons")
lessons, broken = L.load_each()
wanted = st.query_params.get("lesson")
# a class's locked view: a link with both (the picker below writes no ``lesson=`` while the controls are
# hidden, so the address keeps saying what the link said)
class_link = hidden("controls") and wanted
for name, e in broken.items():  # the other lessons stay usable; a class sees only its own lesson's
    if not class_link or name == wanted:
        st.error(f"A lesson file is broken and left out: {e}", icon=":material/error:")
if not lessons:
    st.info(f"No lessons in {L.lessons_dir()}." if not broken else
            f"No lesson in {L.lessons_dir()} validates: fix the files above "
            "(`python -m ssrl_core list lessons` names every problem).")
    widgets.stop()

by_id = {l.id: l for l in lessons}
if wanted and wanted not in by_id and wanted not in broken and (meant := urlstate.loose(wanted, by_id)):
    wanted = meant  # "four_families" or "Four-Families" for four-families: a class's link led nowhere
if wanted and wanted not in by_id:
    if wanted not in broken:  # a broken one was said above
        st.warning(f"No lesson {text.code(urlstate.short(wanted))}: choose one of {', '.join(by_id)}.",
                   icon=":material/link_off:")  # as every page says of a link's value it cannot use
    if class_link:  # a class's link promised no controls: another lesson's Launch would train the wrong runs
        st.info("This link was made for a class and opens no other lesson. Ask whoever shared it for a corrected "
                "link.", icon=":material/link_off:")
        widgets.stop()
    wanted = None
if class_link:
    lesson = by_id[wanted]
else:
    # ``?hide=controls`` without a lesson (the hide carried from another page): the picker, and no teacher's link box
    controls = not hidden("controls")
    st.caption("Each lesson asks one question that the survey or the papers it covers answer, launches the runs "
               "that answer it (reusing finished runs with the same settings), and checks whether the expected "
               "outcome appeared." + (" To share one with a class, pick it: its link is given below it."
                                      if controls else ""))
    lesson = ui.lesson_picker(lessons, wanted, in_address=controls)
    if controls:
        ui.class_link(lesson)

st.header(lesson.title)
st.markdown(f"**{lesson.question.replace('**', '')}**")  # bold whole: a bold word inside ended the bold there
st.markdown(lesson.explanation)
if words := ui.glossary(lesson):
    with st.expander(f"Words used in this lesson ({len(words)})", icon=":material/menu_book:"):
        st.markdown(glossary.as_list(words))

store = services.store()
planned = L.plan(lesson, store)
ui.launch_panel(lesson, planned, show_details=not hidden("controls"), titles={x.id: x.title for x in lessons})
data = L.store_data(planned)
verdict = L.judge(lesson, data)
ui.progress_panel(lesson, planned, verdict)  # the verdict told in its live region as the last run ends
ui.extras_panel(lesson, planned, data)
if key := ui.run_key(lesson):
    st.caption(key)
ui.verdict_panel(lesson, verdict, data)
for i, (title, fig, note) in enumerate(ui.figures(lesson, data)):
    st.subheader(title)
    widgets.chart(fig, key=f"lesson_chart_{i}")
    if note:
        st.caption(note)
st.markdown(f"**How to read it.** {lesson.how_to_read}")
