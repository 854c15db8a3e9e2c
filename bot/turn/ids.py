"""Option ids and state names the engine itself relies on. Flow option ids never start with
"sys_"; every pattern flow has the tail fragment's states."""

SYS_GUESS_YES, SYS_GUESS_NO = "sys_guess_yes", "sys_guess_no"
SYS_DELETE_YES, SYS_DELETE_NO = "sys_delete_yes", "sys_delete_no"
SYS_CHECK_YES, SYS_CHECK_NO = "sys_check_yes", "sys_check_no"  # "are you thinking of suicide?"
SYS_RESTART = "sys_restart"
SYS_EXIT = "sys_exit"  # a "Leave quickly" button a channel may add to every keyboard
SYS_HUMAN, SYS_HELP = "sys_human", "sys_help"  # offered after two misunderstandings in a row
SYS_KEEP_ALL, SYS_REMOVE = "sys_ind_keep", "sys_ind_rm_"
SYS_LANGUAGE = "sys_lang_"  # + an offered locale: "sys_lang_cy"
EVIDENCE_STEP = "evidence"  # each pattern flow's own evidence step, after "keep evidence"
EVIDENCE_LATER = "evidence_later"  # the tail fragment's evidence step, in every pattern flow
TAIL_START = "support"
FINISHED = "finished"  # the option that leaves an evidence step
MAX_ENTER_HOPS = 50
