// SPDX-License-Identifier: GPL-2.0
/* pin_user_pages() still takes a vmas array */
#include <linux/mm.h>

long spatten_conftest(unsigned long start, struct page **pages);
long spatten_conftest(unsigned long start, struct page **pages)
{
	return pin_user_pages(start, 1, FOLL_WRITE, pages, NULL);
}
