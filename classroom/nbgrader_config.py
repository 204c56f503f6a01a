"""nbgrader settings for the gbp-widgets course directory (this folder)."""

c = get_config()  # noqa: F821 - nbgrader defines get_config when it reads this file

c.CourseDirectory.course_id = "gbp-widgets"
c.CourseDirectory.root = "."
# The last cells load the pretrained model and explain a photo; give them time on slow machines.
c.ExecutePreprocessor.timeout = 300
