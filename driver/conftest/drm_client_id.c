// SPDX-License-Identifier: GPL-2.0
/* struct drm_file carries the fdinfo client_id */
#include <drm/drm_file.h>

u64 spatten_conftest(struct drm_file *f);
u64 spatten_conftest(struct drm_file *f)
{
	return f->client_id;
}
