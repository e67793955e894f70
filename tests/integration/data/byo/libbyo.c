/* libbyo.c — the program's own shared library; TAG says which copy a guest loaded. */
const char *byo_tag(void);

const char *byo_tag(void)
{
	return TAG;
}
